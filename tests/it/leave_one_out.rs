//! Leave-one-out over wordings: for every synonym a header of the sample district is matched
//! by, the form without that synonym must still give the column the same field (through
//! another synonym, a pattern of its words, or its values). A district whose office words a
//! header in a way the forms do not list is then read as the sample is.

use std::collections::BTreeMap;

use wangge::config::forms::{FormConfig, load_forms};
use wangge::ingest::layout::{Filled, SynonymIndex, find_layout};
use wangge::ingest::limits::Limits;
use wangge::ingest::read::{self, RawSheet};
use wangge::normalize::header;

use crate::common::repo;
use crate::ingest::files_under;

/// (form, field) of each mapped column of a sheet.
fn mapping(sheet: &RawSheet, forms: &[FormConfig]) -> BTreeMap<usize, (String, String)> {
    let filled = Filled::new(sheet);
    match find_layout(&filled, forms, &SynonymIndex::new(forms)) {
        Ok(layout) => {
            let form = &forms[layout.form];
            layout.columns.iter().map(|(c, f, _)| (*c, (form.form.clone(), form.fields[*f].name.clone()))).collect()
        }
        Err(_) => BTreeMap::new(),
    }
}

#[test]
fn every_sample_header_is_still_read_without_the_synonym_that_matched_it() {
    let sample = repo().join("sample-data");
    let forms = load_forms(&sample.join("pipelines/forms")).unwrap();
    let mut sheets = Vec::new();
    for path in files_under(&sample.join("inbox")) {
        let bytes = std::fs::read(&path).unwrap();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
        if let Ok((_, read)) = read::read(bytes, &ext, &Limits::default()) {
            sheets.extend(read.into_iter().filter(|s| !s.rows.is_empty()));
        }
    }
    // Every (form, field, synonym) a sample header is matched by, with the sheets it is in.
    let mut used: BTreeMap<(usize, usize, usize), Vec<usize>> = BTreeMap::new();
    let baselines: Vec<BTreeMap<usize, (String, String)>> = sheets.iter().map(|s| mapping(s, &forms)).collect();
    for (i, sheet) in sheets.iter().enumerate() {
        let filled = Filled::new(sheet);
        let Ok(layout) = find_layout(&filled, &forms, &SynonymIndex::new(&forms)) else { continue };
        let form = &forms[layout.form];
        for (_, f, label) in &layout.columns {
            let normalized = header::normalize(label);
            let synonym = form.fields[*f].synonyms.iter().position(|s| {
                let s = header::normalize(s);
                s == normalized || header::strip_annotation(&normalized) == Some(s.as_str())
            });
            if let Some(s) = synonym {
                let sheets = used.entry((layout.form, *f, s)).or_default();
                if !sheets.contains(&i) {
                    sheets.push(i);
                }
            }
        }
    }
    assert!(used.len() > 40, "the sample uses {} synonyms", used.len());
    let mut lost = Vec::new();
    for ((form, field, synonym), in_sheets) in &used {
        let mut without = forms.clone();
        let removed = without[*form].fields[*field].synonyms.remove(*synonym);
        for &i in in_sheets {
            let got = mapping(&sheets[i], &without);
            for (column, want) in &baselines[i] {
                if want.1 == forms[*form].fields[*field].name && got.get(column) != Some(want) {
                    lost.push(format!(
                        "{}.{} without \"{removed}\": sheet `{}` column {column} became {:?}",
                        forms[*form].form,
                        want.1,
                        sheets[i].name,
                        got.get(column)
                    ));
                }
            }
        }
    }
    println!("leave-one-out: {} synonyms used by the sample, {} columns lost", used.len(), lost.len());
    assert!(lost.is_empty(), "{} columns lost their field:\n{}", lost.len(), lost.join("\n"));
}

/// Whether a field's column can be told by its values (see `ingest::profile`): IDs, phones,
/// genders, grids, and the required dates and person names.
fn told_by_values(field: &wangge::config::forms::FieldConfig) -> bool {
    use wangge::config::forms::{FieldType, Values};
    match field.kind {
        FieldType::CitizenId | FieldType::Phone | FieldType::Gender | FieldType::Grid => true,
        FieldType::Date | FieldType::Datetime => field.required,
        _ => field.required && field.values == Some(Values::PersonNames),
    }
}

/// Leave-all-words-out for one column at a time: the header of each ID, phone, gender, grid,
/// required date and required name column of the sample is replaced by a word that names
/// nothing (`栏目7`), and the column must still get its field, by its values alone, wherever
/// it has five values or more.
#[test]
fn every_sample_column_of_telling_values_is_read_under_a_header_that_names_nothing() {
    use wangge::normalize::value::Cell;
    let sample = repo().join("sample-data");
    let forms = load_forms(&sample.join("pipelines/forms")).unwrap();
    let index = SynonymIndex::new(&forms);
    let (mut tried, mut lost) = (0, Vec::new());
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for path in files_under(&sample.join("inbox")) {
        let bytes = std::fs::read(&path).unwrap();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
        let Ok((_, read)) = read::read(bytes, &ext, &Limits::default()) else { continue };
        for sheet in read.into_iter().filter(|s| !s.rows.is_empty()) {
            let Ok(layout) = find_layout(&Filled::new(&sheet), &forms, &index) else { continue };
            let form = &forms[layout.form];
            let header = *layout.header_rows.last().unwrap();
            for (column, field, _) in &layout.columns {
                let fd = &form.fields[*field];
                // Values tell only where there are some: five cells at least (a sheet of one
                // follow-up, its ID left blank, has nothing to tell by).
                let cells =
                    sheet.rows[header + 1..].iter().filter(|r| r.get(*column).is_some_and(|c| !c.is_blank())).count();
                if !told_by_values(fd) || cells < 5 {
                    continue;
                }
                let mut blind = sheet.clone();
                let row = &mut blind.rows[header];
                if row.len() <= *column {
                    row.resize(*column + 1, Cell::Empty);
                }
                row[*column] = Cell::Text(format!("栏目{column}"));
                // A parent header row above must not name it either.
                if layout.header_rows.len() == 2 {
                    let parent = &mut blind.rows[layout.header_rows[0]];
                    if *column < parent.len() {
                        parent[*column] = Cell::Text(format!("栏目{column}"));
                    }
                }
                tried += 1;
                *kinds.entry(format!("{}.{}", form.form, fd.name)).or_default() += 1;
                let got = mapping(&blind, &forms);
                let want = (form.form.clone(), fd.name.clone());
                if got.get(column) != Some(&want) {
                    lost.push(format!(
                        "{} [{}] {}.{}: became {:?}",
                        path.display(),
                        sheet.name,
                        want.0,
                        want.1,
                        got.get(column)
                    ));
                }
            }
        }
    }
    println!("told by values: {tried} columns tried, {} lost; {kinds:?}", lost.len());
    assert!(tried > 100 && kinds.len() >= 10, "{tried} columns, {kinds:?}");
    assert!(lost.is_empty(), "{} columns lost their field:\n{}", lost.len(), lost.join("\n"));
}

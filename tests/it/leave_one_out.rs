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

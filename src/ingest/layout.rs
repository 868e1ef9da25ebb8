//! Finding the table on a sheet: which rows are the header (one row, or a parent row over a
//! child row), which form the sheet is, and which column holds which field (domain.md
//! §3.1–3.2). Headers are scored against every form's synonyms; merged ranges are filled
//! from their top-left cell first, so a merged parent labels every column under it.

use std::collections::{BTreeSet, HashMap};

use super::profile;
use super::read::{Merge, RawSheet};
use crate::config::forms::FormConfig;
use crate::normalize::header;
use crate::normalize::value::Cell;

/// How many rows from the top are searched for a header.
pub const HEADER_SCAN_ROWS: usize = 20;

/// A sheet's merged ranges as lookups: which cell each covered position shows, and how wide
/// each row is once merged cells are counted. Built once per sheet.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Covered position → its range's top-left position.
    covered: HashMap<(usize, usize), (usize, usize)>,
    /// Row → width including merged cells that reach past its last value.
    merged_width: HashMap<usize, usize>,
    /// Top-left row of a range → the last row the range covers.
    anchors: HashMap<usize, usize>,
    /// The first and last rows any range covers: most rows are outside, and need no lookup
    /// (the lookups were a few percent of ingesting the sample district).
    rows: Option<(usize, usize)>,
}

impl Merged {
    pub fn new(merges: &[Merge]) -> Merged {
        let mut merged = Merged::default();
        for m in merges {
            // A range comes from the file: it may be reversed or absurdly large (a whole-column
            // merge, or a reference past Excel's last row). Order its corners, and skip any that
            // would cover more than 100,000 cells, with arithmetic that cannot overflow.
            let m = &Merge {
                first_row: m.first_row.min(m.last_row),
                last_row: m.first_row.max(m.last_row),
                first_col: m.first_col.min(m.last_col),
                last_col: m.first_col.max(m.last_col),
            };
            let cells = (m.last_row - m.first_row)
                .checked_add(1)
                .and_then(|h| h.checked_mul((m.last_col - m.first_col).checked_add(1)?));
            if cells.is_none_or(|n| n > 100_000) {
                continue;
            }
            for r in m.first_row..=m.last_row {
                for c in m.first_col..=m.last_col {
                    if (r, c) != (m.first_row, m.first_col) {
                        merged.covered.insert((r, c), (m.first_row, m.first_col));
                    }
                    let w = merged.merged_width.entry(r).or_default();
                    *w = (*w).max(c + 1);
                }
            }
            merged.rows = Some(match merged.rows {
                Some((first, last)) => (first.min(m.first_row), last.max(m.last_row)),
                None => (m.first_row, m.last_row),
            });
            if m.last_row > m.first_row {
                let last = merged.anchors.entry(m.first_row).or_default();
                *last = (*last).max(m.last_row);
            }
        }
        merged
    }

    /// Rows whose cells show in later rows through a merged range, with the last row each
    /// reaches: a reader that passes rows on in pieces keeps these.
    pub fn anchors(&self) -> &HashMap<usize, usize> {
        &self.anchors
    }
}

/// A sheet's cells with merged ranges filled from their top-left cell: the whole sheet, or a
/// window of consecutive rows (with the earlier rows that merged ranges reach down from).
pub struct Filled<'a> {
    rows: &'a [Vec<Cell>],
    /// The sheet row of `rows[0]`.
    offset: usize,
    /// Rows before the window that merged ranges reach into it from.
    anchors: Option<&'a HashMap<usize, Vec<Cell>>>,
    merged: std::borrow::Cow<'a, Merged>,
}

impl<'a> Filled<'a> {
    pub fn new(sheet: &'a RawSheet) -> Filled<'a> {
        Filled {
            rows: &sheet.rows,
            offset: 0,
            anchors: None,
            merged: std::borrow::Cow::Owned(Merged::new(&sheet.merged)),
        }
    }

    /// Rows `offset..offset + rows.len()` of a sheet whose merges are `merged`.
    pub fn window(
        rows: &'a [Vec<Cell>],
        offset: usize,
        anchors: &'a HashMap<usize, Vec<Cell>>,
        merged: &'a Merged,
    ) -> Filled<'a> {
        Filled { rows, offset, anchors: Some(anchors), merged: std::borrow::Cow::Borrowed(merged) }
    }

    fn row(&self, row: usize) -> Option<&'a Vec<Cell>> {
        match row.checked_sub(self.offset).and_then(|r| self.rows.get(r)) {
            Some(cells) => Some(cells),
            None => self.anchors.and_then(|a| a.get(&row)),
        }
    }

    fn in_merges(&self, row: usize) -> bool {
        self.merged.rows.is_some_and(|(first, last)| (first..=last).contains(&row))
    }

    pub fn get(&self, row: usize, col: usize) -> &'a Cell {
        let (r, c) = match self.in_merges(row) {
            true => self.merged.covered.get(&(row, col)).copied().unwrap_or((row, col)),
            false => (row, col),
        };
        self.row(r).and_then(|cells| cells.get(c)).unwrap_or(&Cell::Empty)
    }

    /// Whether the position shows another cell's value through a merged range.
    pub fn is_covered(&self, row: usize, col: usize) -> bool {
        self.in_merges(row) && self.merged.covered.contains_key(&(row, col))
    }

    /// Number of columns in the row (merged cells to its right included).
    pub fn width(&self, row: usize) -> usize {
        let own = self.row(row).map_or(0, Vec::len);
        if !self.in_merges(row) {
            return own;
        }
        own.max(self.merged.merged_width.get(&row).copied().unwrap_or(0))
    }

    /// One past the last row.
    pub fn height(&self) -> usize {
        self.offset + self.rows.len()
    }

    pub fn label(&self, row: usize, col: usize) -> String {
        self.get(row, col).text()
    }
}

/// The table found on a sheet.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Index of the form in the list given.
    pub form: usize,
    /// 0-based header rows (one or two).
    pub header_rows: Vec<usize>,
    /// (0-based column, field index in the form, header text as written).
    pub columns: Vec<(usize, usize, String)>,
    /// For each of `columns`: the header text normalised, and the last header row's cell as
    /// written; computed once so that spotting a repeated header on every row is cheap.
    pub header_texts: Vec<(String, String)>,
    /// For each of `columns`: how its field was decided.
    pub evidence: Vec<Evidence>,
}

/// How a column was given its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The header is one of the field's synonyms.
    Synonym,
    /// The header combines the words of one of the field's patterns.
    Pattern,
    /// The header names no field, and this share of the column's values (in percent) are of
    /// the only kind an unassigned field of the form holds.
    Content { kind: profile::Kind, percent: u8 },
}

impl Evidence {
    pub fn describe(self) -> String {
        match self {
            Evidence::Synonym => "synonym".into(),
            Evidence::Pattern => "pattern".into(),
            Evidence::Content { kind, percent } => format!("content: {percent}% {}", kind.label()),
        }
    }

    /// How much a column decided this way counts when forms are compared.
    fn weight(self) -> usize {
        match self {
            Evidence::Synonym => 4,
            Evidence::Pattern => 3,
            Evidence::Content { .. } => 2,
        }
    }
}

/// Columns a sheet must have recognised to be read as a form, its required ones among them.
pub const MIN_COLUMNS: usize = 3;

/// Why a sheet holds no table of any form.
#[derive(Debug, Clone)]
pub struct NoForm {
    /// The closest form and the required fields it misses.
    pub closest: Option<(usize, Vec<String>)>,
    /// When the closest form misses one required field only: that field, and the headers of the
    /// columns no field took, one of which may be it under a wording no form knows.
    pub hint: Option<(usize, Vec<String>)>,
}

/// Every form's synonyms, normalised once (normalised header text → field index), and its
/// fields' patterns.
pub struct SynonymIndex {
    forms: Vec<HashMap<String, usize>>,
    patterns: Vec<Vec<(usize, header::Pattern)>>,
    /// Per form, the characters its patterns' headers can end with: most cells end with none
    /// of them and need no search (profiled: patterns were a third of ingesting the sample).
    last_chars: Vec<std::collections::HashSet<char>>,
}

/// Headers are short; a longer cell is a title, a note or data, never matched by a pattern.
const MAX_PATTERN_HEADER_CHARS: usize = 40;

impl SynonymIndex {
    pub fn new(forms: &[FormConfig]) -> SynonymIndex {
        let synonyms: Vec<HashMap<String, usize>> = forms
            .iter()
            .map(|form| {
                let mut map = HashMap::new();
                for (i, field) in form.fields.iter().enumerate() {
                    for synonym in &field.synonyms {
                        map.entry(header::normalize(synonym)).or_insert(i);
                    }
                }
                map
            })
            .collect();
        let patterns: Vec<Vec<(usize, header::Pattern)>> = forms
            .iter()
            .map(|form| {
                form.fields
                    .iter()
                    .enumerate()
                    .flat_map(|(i, field)| field.patterns.iter().map(move |p| (i, p.clone())))
                    .collect()
            })
            .collect();
        let last_chars = patterns.iter().map(|p| p.iter().flat_map(|(_, p)| p.last_chars()).collect()).collect();
        SynonymIndex { forms: synonyms, patterns, last_chars }
    }

    /// The field of form `form` whose pattern covers most of a normalised header, and how many
    /// characters it covers; the first declared field on a tie.
    pub fn pattern_field(&self, form: usize, normalized: &str) -> Option<(usize, usize)> {
        // Headers are short and hold no digits outside an annotation (`身份证号(18位)`); a cell
        // such as `第3网格` or `2022-05-10` is data, whatever words it has.
        if normalized.is_empty() || normalized.len() > 4 * MAX_PATTERN_HEADER_CHARS {
            return None;
        }
        let stripped = header::strip_annotation(normalized);
        let ends = [Some(normalized), stripped].into_iter().flatten().filter_map(|t| t.chars().last());
        if !ends.into_iter().any(|c| self.last_chars[form].contains(&c)) {
            return None;
        }
        let words = stripped.unwrap_or(normalized);
        if normalized.chars().count() > MAX_PATTERN_HEADER_CHARS || words.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut best: Option<(usize, usize)> = None;
        for (field, pattern) in &self.patterns[form] {
            if let Some(covered) = pattern.coverage_of(normalized, stripped)
                && best.is_none_or(|(_, c)| covered > c)
            {
                best = Some((*field, covered));
            }
        }
        best
    }

    /// The field of form `form` that a normalised header text names (exact, or without a
    /// trailing bracketed annotation).
    pub fn field(&self, form: usize, normalized: &str) -> Option<usize> {
        let map = &self.forms[form];
        map.get(normalized).or_else(|| header::strip_annotation(normalized).and_then(|s| map.get(s))).copied()
    }
}

/// Finds the header and form of a sheet.
pub fn find_layout(filled: &Filled<'_>, forms: &[FormConfig], index: &SynonymIndex) -> Result<Layout, NoForm> {
    let mut best: Option<(usize, f64, Layout)> = None;
    // Column profiles by (first data row, column), made once for all forms.
    let mut profiles: HashMap<(usize, usize), profile::Profile> = HashMap::new();
    let mut closest: Option<(usize, usize, Vec<String>)> = None;
    let mut hint: Option<(usize, Vec<String>)> = None;
    let scan = filled.height().min(HEADER_SCAN_ROWS);
    // Each candidate header cell as written and normalised, once for all forms.
    let labels: Vec<Vec<(String, String)>> = (0..scan)
        .map(|r| {
            (0..filled.width(r))
                .map(|c| {
                    let label = filled.label(r, c);
                    let normalized = header::normalize(&label);
                    (label, normalized)
                })
                .collect()
        })
        .collect();
    // Whether each row can be a parent header row: two or more distinct labels (a title has one).
    let parent_like: Vec<bool> = (0..scan).map(|r| distinct_labels(filled, r) >= 2).collect();
    for (f, form) in forms.iter().enumerate() {
        for row in 0..scan {
            let single = map_columns(&labels, index, f, &[row]);
            let mut candidate = (vec![row], single);
            if row > 0 && parent_like[row - 1] {
                let double = map_columns(&labels, index, f, &[row - 1, row]);
                if double.0.len() >= candidate.1.0.len() {
                    candidate = (vec![row - 1, row], double);
                }
            }
            let (rows, (mut columns, mut evidence)) = candidate;
            // Two fields recognised by their headers: the rest may be told by their values.
            if columns.len() >= 2 {
                profile::assign_by_content(filled, form, &rows, &mut columns, &mut evidence, &mut profiles);
            }
            let matched: BTreeSet<usize> = columns.iter().map(|(_, field, _)| *field).collect();
            let unmatched_required: Vec<usize> =
                (0..form.fields.len()).filter(|i| form.fields[*i].required && !matched.contains(i)).collect();
            let mut missing: Vec<String> = unmatched_required.iter().map(|i| form.fields[*i].label.clone()).collect();
            for group in &form.required_one_of {
                let fields: Vec<usize> =
                    group.iter().filter_map(|n| form.fields.iter().position(|f| &f.name == n)).collect();
                if !fields.iter().any(|i| matched.contains(i)) {
                    missing.push(fields.iter().map(|i| form.fields[*i].label.as_str()).collect::<Vec<_>>().join("或"));
                }
            }
            // Closest: most fields matched, then fewest required fields missing.
            if closest.as_ref().is_none_or(|(_, n, m)| (matched.len(), m.len()) > (*n, missing.len())) {
                closest = Some((f, matched.len(), missing.clone()));
                // Only under a header some synonym confirms: a data row of a registry (第1网格,
                // 幸福里社区) fits patterns too, and its values are no wordings to add.
                let confirmed = evidence.contains(&Evidence::Synonym);
                hint = match unmatched_required[..] {
                    [field] if matched.len() >= 2 && confirmed => {
                        let width = rows.iter().map(|r| filled.width(*r)).max().unwrap_or(0);
                        let free: Vec<String> = (0..width)
                            .filter(|c| !columns.iter().any(|(col, _, _)| col == c))
                            .filter_map(|c| {
                                let label = rows.iter().rev().map(|r| filled.label(*r, c)).find(|l| !l.is_empty())?;
                                let numeric = label.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
                                (label.chars().count() <= 20 && !numeric).then_some(label)
                            })
                            .collect();
                        (!free.is_empty()).then_some((field, free))
                    }
                    _ => None,
                };
            }
            if !missing.is_empty() || matched.len() < MIN_COLUMNS {
                continue;
            }
            // A header matched by a synonym is surer than one matched by a pattern: between two
            // forms, the one whose headers are surer wins.
            let weight = evidence.iter().map(|e| e.weight()).sum::<usize>();
            let ratio = matched.len() as f64 / form.fields.len() as f64;
            let better = match &best {
                None => true,
                Some((w, r, _)) => weight > *w || (weight == *w && ratio > *r),
            };
            if better {
                let last = *rows.last().expect("one or two header rows");
                let header_texts =
                    columns.iter().map(|(c, _, label)| (header::normalize(label), filled.label(last, *c))).collect();
                best = Some((weight, ratio, Layout { form: f, header_rows: rows, columns, header_texts, evidence }));
            }
        }
    }
    match best {
        Some((_, _, layout)) => Ok(layout),
        None => {
            let closest = closest.filter(|(_, n, _)| *n > 0).map(|(f, _, missing)| (f, missing));
            Err(NoForm { hint: hint.filter(|_| closest.is_some()), closest })
        }
    }
}

fn distinct_labels(filled: &Filled<'_>, row: usize) -> usize {
    (0..filled.width(row)).map(|c| filled.label(row, c)).filter(|l| !l.is_empty()).collect::<BTreeSet<_>>().len()
}

/// Maps the columns of the given header rows to fields. A column's header names a field by a
/// synonym or, failing that, by a pattern; each field then takes one column: synonyms before
/// patterns, a pattern covering more of its header before one covering less, then the first
/// column. `labels` holds each scanned cell as written and normalised.
fn map_columns(
    labels: &[Vec<(String, String)>],
    index: &SynonymIndex,
    form: usize,
    rows: &[usize],
) -> (Vec<(usize, usize, String)>, Vec<Evidence>) {
    use std::borrow::Cow;
    let empty = (String::new(), String::new());
    let width = rows.iter().map(|r| labels[*r].len()).max().unwrap_or(0);
    // (rank: higher first, column, field, header as written, evidence)
    let mut candidates: Vec<(usize, usize, usize, String, Evidence)> = Vec::new();
    for c in 0..width {
        let cell = |r: usize| labels[r].get(c).unwrap_or(&empty);
        // (as written, normalised), in the order they are tried; borrowed where possible, as
        // this runs for every form, candidate row and column of every sheet.
        let mut texts: [(Cow<'_, str>, Cow<'_, str>); 3] = Default::default();
        match rows {
            [only] => texts[0] = (Cow::Borrowed(&cell(*only).0), Cow::Borrowed(&cell(*only).1)),
            [parent, child] => {
                let (p, ch) = (cell(*parent), cell(*child));
                if !ch.0.is_empty() {
                    texts[0] = (Cow::Borrowed(&ch.0), Cow::Borrowed(&ch.1));
                    if !p.0.is_empty() {
                        texts[1] = (format!("{}/{}", p.0, ch.0).into(), format!("{}/{}", p.1, ch.1).into());
                    }
                }
                texts[2] = (Cow::Borrowed(&p.0), Cow::Borrowed(&p.1));
            }
            _ => {}
        }
        let texts = texts.iter().filter(|(l, _)| !l.is_empty());
        let by_synonym = texts.clone().find_map(|(label, normalized)| Some((index.field(form, normalized)?, label)));
        if let Some((field, label)) = by_synonym {
            candidates.push((usize::MAX, c, field, label.to_string(), Evidence::Synonym));
            continue;
        }
        let by_pattern =
            texts.clone().find_map(|(label, normalized)| Some((index.pattern_field(form, normalized)?, label)));
        if let Some(((field, covered), label)) = by_pattern {
            candidates.push((covered, c, field, label.to_string(), Evidence::Pattern));
        }
    }
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut taken = BTreeSet::new();
    let mut chosen: Vec<(usize, usize, String, Evidence)> = candidates
        .into_iter()
        .filter(|(_, _, field, _, _)| taken.insert(*field))
        .map(|(_, c, field, label, evidence)| (c, field, label, evidence))
        .collect();
    chosen.sort_by_key(|(c, ..)| *c);
    chosen.into_iter().map(|(c, field, label, evidence)| ((c, field, label), evidence)).unzip()
}

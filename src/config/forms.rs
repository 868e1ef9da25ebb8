//! Form declarations (`pipelines/forms/*.toml`): each form's canonical fields, their types,
//! whether they are required, what happens when a value is invalid, and the header wordings
//! that name them. Forms are declared, not coded: a new header variant is a one-line change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::strict::{self, ConfigError};
use crate::normalize::header;

/// One form, as declared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormConfig {
    /// Identifier, equal to the file stem (`returnees`).
    pub form: String,
    /// Chinese name for messages and reports (来返人员登记).
    pub label: String,
    /// Rosters are applied before daily forms.
    #[serde(default)]
    pub roster: bool,
    /// The identity duplicates are detected on, within a report date: a rule's name
    /// (`"citizen_id_or_phone"`) or a list of fields (`["grid", "address", "report_date"]`).
    pub dedup: Dedup,
    pub fields: Vec<FieldConfig>,
    /// Groups of fields of which a sheet must have at least one column, and a row at least one
    /// value: a roster names its grid by code or by name (`[["grid", "grid_name"]]`).
    #[serde(default)]
    pub required_one_of: Vec<Vec<String>>,
    /// Synonym maps: enum name → canonical value → accepted spellings.
    #[serde(default)]
    pub enums: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Lifecycle stages: enum name → canonical value → stage. A field of such an enum gets a
    /// `<field>_stage` column, and measures count stages, never status wordings, so a district
    /// whose export says `已结案` or `已归档` is counted as one that says `已办结`.
    #[serde(default)]
    pub stages: BTreeMap<String, BTreeMap<String, Stage>>,
}

/// A stage of a case's lifecycle: the steps of the national digital city-management process
/// (GB/T 30428: 受理、立案、派遣、处置、核查、结案) and of 12345 hotline systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 受理、立案: taken in, not yet sent to anyone.
    Received,
    /// 派遣、派单: sent to the unit that handles it, not yet started.
    Dispatched,
    /// 处置、办理: being handled (an extension asked for or granted included).
    InProgress,
    /// 核查、回访: handled, waiting for the check or the call-back.
    AwaitingCheck,
    /// 结案、办结、归档.
    Closed,
    /// 撤销、作废、无效、重复: never to be handled.
    Cancelled,
    /// 退回、退单: sent back by the handler, waiting to be sent again.
    Returned,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Received => "received",
            Stage::Dispatched => "dispatched",
            Stage::InProgress => "in_progress",
            Stage::AwaitingCheck => "awaiting_check",
            Stage::Closed => "closed",
            Stage::Cancelled => "cancelled",
            Stage::Returned => "returned",
        }
    }
}

/// The identity a form's duplicates are detected on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Dedup {
    /// A rule with its own semantics (an ID, else a phone).
    Rule(DedupRule),
    /// These fields' values together; a blank optional field is a blank part, and a row whose
    /// listed fields are all blank has no identity. `report_date` may be listed for the reader:
    /// every identity is within a report date already.
    Fields(Vec<String>),
}

/// The named dedup rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupRule {
    CitizenId,
    CitizenIdOrPhone,
    CitizenIdAndCategory,
    GridAddressHouseholdHead,
    OrderId,
    SubGridCode,
}

/// One canonical field of a form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub on_invalid: OnInvalid,
    /// Name of a synonym map under `[enums]` (type `enum` only).
    #[serde(rename = "enum")]
    pub enum_name: Option<String>,
    pub synonyms: Vec<String>,
    /// Patterns of the words offices combine in this field's header, for wordings no synonym
    /// lists (see `header::Pattern`): `"到达|抵达|返回|返 + 时间|日期|时"`.
    #[serde(default)]
    pub patterns: Vec<header::Pattern>,
    /// Earliest plausible value of a `date`/`datetime` field: a date (`"1950-01-01"`) or an
    /// offset from the run date (`"-30d"`, `"-2y"`). Default `1950-01-01`.
    pub earliest: Option<DateBound>,
    /// Latest plausible value, likewise. Default one year after the run date (`"+1y"`); a
    /// measure's end may be declared later.
    pub latest: Option<DateBound>,
    /// What the field's values are, beyond its type, for telling its column by them when no
    /// header names it: `"person_names"` (姓名: 2–4 characters, a surname first).
    pub values: Option<Values>,
    /// A field whose cell stands in for this one's when this one's is blank or the sheet has no
    /// column for it: a roster's grid read from its grid name where the registry has no codes.
    pub fallback: Option<String>,
}

/// What a field's values are (see `FieldConfig::values`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Values {
    PersonNames,
}

/// A bound of a date field's plausible range (see `FieldConfig::earliest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DateBound {
    On(chrono::NaiveDate),
    /// Days after (or, negative, before) the run date.
    Days(i64),
    /// Years after (or before) the run date.
    Years(i32),
}

impl TryFrom<String> for DateBound {
    type Error = String;

    fn try_from(text: String) -> Result<DateBound, String> {
        let bad = || {
            format!(
                "`{text}` is not a date bound: write a date (`1950-01-01`) or an offset from the run date (`+1y`, `-30d`)"
            )
        };
        if let Ok(date) = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            return Ok(DateBound::On(date));
        }
        let t = text.trim();
        let (number, unit) = t.split_at(t.len().saturating_sub(1));
        let n: i64 = number.strip_prefix('+').unwrap_or(number).parse().map_err(|_| bad())?;
        match unit {
            "d" if n.abs() <= 100_000 => Ok(DateBound::Days(n)),
            "y" if n.abs() <= 200 => Ok(DateBound::Years(n as i32)),
            _ => Err(bad()),
        }
    }
}

impl DateBound {
    /// The bound for a run date.
    pub fn resolve(self, run_date: chrono::NaiveDate) -> chrono::NaiveDate {
        use chrono::Datelike;
        match self {
            DateBound::On(date) => date,
            DateBound::Days(n) => run_date.checked_add_signed(chrono::Duration::days(n)).unwrap_or(run_date),
            DateBound::Years(n) => {
                let year = run_date.year() + n;
                chrono::NaiveDate::from_ymd_opt(year, run_date.month(), run_date.day())
                    .or_else(|| chrono::NaiveDate::from_ymd_opt(year, run_date.month(), 28))
                    .unwrap_or(run_date)
            }
        }
    }
}

impl FieldConfig {
    /// The plausible range of a date field for a run date (see `earliest` and `latest`).
    pub fn date_range(&self, run_date: chrono::NaiveDate) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let earliest =
            self.earliest.unwrap_or(DateBound::On(chrono::NaiveDate::from_ymd_opt(1950, 1, 1).expect("a date")));
        let latest = self.latest.unwrap_or(DateBound::Years(1));
        (earliest.resolve(run_date), latest.resolve(run_date))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Code,
    Integer,
    Boolean,
    Date,
    Datetime,
    CitizenId,
    Phone,
    Gender,
    Grid,
    Enum,
    /// A time limit, stored in whole hours (`48`, `48小时`, `2天`; see `value::hours`).
    Hours,
}

/// What an invalid value does to its row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInvalid {
    /// The row is rejected with the value's reason.
    #[default]
    Reject,
    /// The row is kept, the value left empty, and a warning recorded.
    Warn,
}

/// The form id of the grid registry (网格台账): read before every other form, since they resolve
/// their grids against it.
pub const GRID_REGISTRY: &str = "grids";

impl FormConfig {
    pub fn is_grid_registry(&self) -> bool {
        self.form == GRID_REGISTRY
    }

    /// The stages of a field's values, when its enum declares them.
    pub fn stages_of(&self, field: &FieldConfig) -> Option<&BTreeMap<String, Stage>> {
        self.stages.get(field.enum_name.as_deref()?)
    }

    /// The field a header cell names, if any.
    pub fn field_for_header(&self, header_text: &str) -> Option<&FieldConfig> {
        self.fields.iter().find(|f| f.synonyms.iter().any(|s| header::matches(header_text, s)))
    }
}

/// Loads every `*.toml` under `dir`, reporting all problems of all files at once.
pub fn load_forms(dir: &Path) -> Result<Vec<FormConfig>, Vec<ConfigError>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect()
        }
        Err(e) => return Err(vec![ConfigError::whole_file(dir, format!("cannot read the forms folder: {e}"))]),
    };
    paths.sort();
    let mut forms = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ConfigError::whole_file(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        match strict::from_toml::<FormConfig>(&path, &text) {
            Ok(form) => {
                errors.extend(check_form(&path, &text, &form));
                forms.push(form);
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(forms) } else { Err(errors) }
}

/// Cross-field checks serde cannot make.
fn check_form(path: &Path, text: &str, form: &FormConfig) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let at = |needle: &str| text.find(needle).unwrap_or(0);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    for group in &form.required_one_of {
        if group.len() < 2 {
            errors.push(ConfigError::at(
                path,
                text,
                at("required_one_of"),
                "each group of `required_one_of` names at least two fields".to_string(),
            ));
        }
        for name in group.iter().filter(|n| !form.fields.iter().any(|f| &f.name == *n)) {
            errors.push(ConfigError::at(
                path,
                text,
                at("required_one_of"),
                format!("`required_one_of` names `{name}`, which is not a field of the form"),
            ));
        }
    }
    for field in &form.fields {
        let Some(other) = &field.fallback else { continue };
        if other == &field.name || !form.fields.iter().any(|f| &f.name == other) {
            errors.push(ConfigError::at(
                path,
                text,
                at(&format!("fallback = \"{other}\"")),
                format!("field `{}` falls back to `{other}`, which is not another field of the form", field.name),
            ));
        }
    }
    if form.form != stem {
        errors.push(ConfigError::at(
            path,
            text,
            at("form"),
            format!("`form = \"{}\"` must match the file name `{stem}.toml`", form.form),
        ));
    }
    let mut names = BTreeSet::new();
    let mut seen_synonyms: BTreeMap<String, &str> = BTreeMap::new();
    for field in &form.fields {
        let field_at = at(&format!("name = \"{}\"", field.name));
        if !names.insert(field.name.as_str()) {
            errors.push(ConfigError::at(path, text, field_at, format!("field `{}` is declared twice", field.name)));
        }
        if field.synonyms.is_empty() {
            errors.push(ConfigError::at(
                path,
                text,
                field_at,
                format!("field `{}` has no synonyms, so no header can name it", field.name),
            ));
        }
        match (field.kind, &field.enum_name) {
            (FieldType::Enum, None) => errors.push(ConfigError::at(
                path,
                text,
                field_at,
                format!("field `{}` has `type = \"enum\"` but no `enum = \"...\"`", field.name),
            )),
            (FieldType::Enum, Some(name)) if !form.enums.contains_key(name) => {
                let valid: Vec<_> = form.enums.keys().map(|k| format!("`{k}`")).collect();
                errors.push(ConfigError::at(
                    path,
                    text,
                    field_at,
                    format!(
                        "field `{}` uses enum `{name}`, which is not declared; declared: {}",
                        field.name,
                        if valid.is_empty() { "none".into() } else { valid.join(", ") }
                    ),
                ));
            }
            _ => {}
        }
        if (field.earliest.is_some() || field.latest.is_some())
            && !matches!(field.kind, FieldType::Date | FieldType::Datetime)
        {
            errors.push(ConfigError::at(
                path,
                text,
                field_at,
                format!(
                    "field `{}` declares `earliest`/`latest`, which only `date` and `datetime` fields take",
                    field.name
                ),
            ));
        }
        match (field.kind, &field.enum_name) {
            (kind, Some(_)) if kind != FieldType::Enum => errors.push(ConfigError::at(
                path,
                text,
                field_at,
                format!("field `{}` names an enum but its type is not `enum`", field.name),
            )),
            _ => {}
        }
        for synonym in &field.synonyms {
            let key = header::normalize(synonym);
            if let Some(other) = seen_synonyms.insert(key, &field.name) {
                if other != field.name {
                    errors.push(ConfigError::at(
                        path,
                        text,
                        field_at,
                        format!("synonym `{synonym}` names both `{other}` and `{}`", field.name),
                    ));
                }
            }
        }
    }
    errors.extend(check_dedup(path, text, form));
    errors.extend(check_stages(path, text, form));
    errors
}

/// A dedup list names fields of the form (or `report_date`), each once, at least one a field.
fn check_dedup(path: &Path, text: &str, form: &FormConfig) -> Vec<ConfigError> {
    let Dedup::Fields(list) = &form.dedup else { return Vec::new() };
    let mut errors = Vec::new();
    let at = text.find("dedup").unwrap_or(0);
    let mut seen = BTreeSet::new();
    for name in list {
        if !seen.insert(name) {
            errors.push(ConfigError::at(path, text, at, format!("`dedup` names `{name}` twice")));
        } else if name != "report_date" && !form.fields.iter().any(|f| &f.name == name) {
            errors.push(ConfigError::at(
                path,
                text,
                at,
                format!("`dedup` names `{name}`, which is not a field of the form (nor `report_date`)"),
            ));
        }
    }
    if !list.iter().any(|n| n != "report_date") {
        errors.push(ConfigError::at(path, text, at, "`dedup` must name at least one field of the form".to_string()));
    }
    errors
}

/// Every staged enum is declared, and every canonical value of it has exactly one stage: a
/// status without one would be counted nowhere.
fn check_stages(path: &Path, text: &str, form: &FormConfig) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (name, stages) in &form.stages {
        let at = text.find(&format!("[stages.{name}]")).unwrap_or(0);
        let Some(values) = form.enums.get(name) else {
            errors.push(ConfigError::at(
                path,
                text,
                at,
                format!("`[stages.{name}]` names no enum declared under `[enums]`"),
            ));
            continue;
        };
        let missing: Vec<&str> = values.keys().filter(|v| !stages.contains_key(*v)).map(String::as_str).collect();
        if !missing.is_empty() {
            errors.push(ConfigError::at(
                path,
                text,
                at,
                format!("`[stages.{name}]` gives no stage for {}", missing.join(", ")),
            ));
        }
        let unknown: Vec<&str> = stages.keys().filter(|v| !values.contains_key(*v)).map(String::as_str).collect();
        if !unknown.is_empty() {
            errors.push(ConfigError::at(
                path,
                text,
                at,
                format!("`[stages.{name}]` stages {}, which `[enums.{name}]` does not declare", unknown.join(", ")),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn required_one_of_and_fallback_name_fields_of_the_form() {
        let dir = tempfile::tempdir().unwrap();
        let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/forms/workers.toml");
        let text = std::fs::read_to_string(bundled).unwrap();
        assert!(text.contains(r#"required_one_of = [["grid", "grid_name"]]"#));
        assert!(text.contains(r#"fallback = "grid_name""#));
        std::fs::write(dir.path().join("workers.toml"), &text).unwrap();
        let forms = load_forms(dir.path()).unwrap();
        assert_eq!(forms[0].required_one_of, [["grid".to_string(), "grid_name".to_string()]]);
        let broken = text
            .replace(r#"[["grid", "grid_name"]]"#, r#"[["grid", "grid_label"], ["name"]]"#)
            .replace(r#"fallback = "grid_name""#, r#"fallback = "grid""#);
        std::fs::write(dir.path().join("workers.toml"), broken).unwrap();
        let errors: Vec<String> = load_forms(dir.path()).unwrap_err().iter().map(|e| e.to_string()).collect();
        assert!(errors.iter().any(|e| e.contains("`grid_label`, which is not a field")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("at least two fields")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("falls back to `grid`, which is not another field")), "{errors:?}");
    }

    #[test]
    fn date_bounds_are_dates_or_offsets_from_the_run_date() {
        let run = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
        let bound = |s: &str| DateBound::try_from(s.to_string());
        assert_eq!(bound("1950-01-01").unwrap().resolve(run), NaiveDate::from_ymd_opt(1950, 1, 1).unwrap());
        assert_eq!(bound("+1y").unwrap().resolve(run), NaiveDate::from_ymd_opt(2023, 5, 10).unwrap());
        assert_eq!(bound("-30d").unwrap().resolve(run), NaiveDate::from_ymd_opt(2022, 4, 10).unwrap());
        assert_eq!(bound("5y").unwrap().resolve(run), NaiveDate::from_ymd_opt(2027, 5, 10).unwrap());
        for bad in ["", "y", "+1w", "tomorrow", "+99999y", "2022-13-01"] {
            assert!(bound(bad).is_err(), "{bad}");
        }
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(bound("+1y").unwrap().resolve(leap), NaiveDate::from_ymd_opt(2025, 2, 28).unwrap());
    }

    #[test]
    fn a_dedup_list_names_fields_of_the_form() {
        let dir = tempfile::tempdir().unwrap();
        let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/forms/visits.toml");
        let text = std::fs::read_to_string(bundled).unwrap();
        let with = |dedup: &str| text.replace(r#"dedup = "grid_address_household_head""#, &format!("dedup = {dedup}"));
        std::fs::write(dir.path().join("visits.toml"), with(r#"["grid", "address", "report_date"]"#)).unwrap();
        let forms = load_forms(dir.path()).unwrap();
        assert_eq!(forms[0].dedup, Dedup::Fields(vec!["grid".into(), "address".into(), "report_date".into()]));
        for (bad, expected) in [
            (r#"["grid", "flat"]"#, "`flat`, which is not a field"),
            (r#"["grid", "grid"]"#, "`grid` twice"),
            (r#"["report_date"]"#, "at least one field"),
        ] {
            std::fs::write(dir.path().join("visits.toml"), with(bad)).unwrap();
            let errors: Vec<String> = load_forms(dir.path()).unwrap_err().iter().map(|e| e.to_string()).collect();
            assert!(errors.iter().any(|e| e.contains(expected)), "{bad}: {errors:?}");
        }
    }
}

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
    /// Chinese name for messages and reports (来唐返唐人员登记).
    pub label: String,
    /// Rosters are applied before daily forms.
    #[serde(default)]
    pub roster: bool,
    /// The identity duplicates are detected on.
    pub dedup: Dedup,
    pub fields: Vec<FieldConfig>,
    /// Synonym maps: enum name → canonical value → accepted spellings.
    #[serde(default)]
    pub enums: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedup {
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

impl FormConfig {
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
    errors
}

//! Strict TOML loading that reports every problem at once, each with file, line and column.
//!
//! serde stops at the first error, which makes a user fix a config one typo per run. We parse
//! the document once into a spanned tree, then deserialise repeatedly: after each error we
//! remove the entry it points at (spans stay those of the original text, so line numbers stay
//! right) and try again, until the document deserialises or nothing more can be removed.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ConfigError {
    /// A problem that concerns a whole file (missing, unreadable) rather than a place in it.
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError { file: file.to_path_buf(), line: None, column: None, message: message.into() }
    }

    /// A problem at a byte offset of `text`, the contents of `file`.
    pub fn at(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(text, offset);
        ConfigError { file: file.to_path_buf(), line: Some(line), column: Some(column), message: message.into() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Deserialises `text` (the contents of `file`) into `T`, reporting all problems found.
pub fn from_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Vec<ConfigError>> {
    collect_all(file, text).map_err(|mut errors| {
        errors.sort_by_key(|e| (e.line, e.column));
        errors
    })
}

fn collect_all<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Vec<ConfigError>> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        return Err(syntax_errors.iter().map(|e| to_config_error(file, text, e)).collect());
    }
    let span = root.span();
    let mut table = root.into_inner();
    let mut errors: Vec<ConfigError> = Vec::new();
    // Keys removed because of an error; a later "missing field" for one of them is the same
    // problem said twice.
    let mut removed: Vec<String> = Vec::new();
    // Every retry removes one entry, so the loop is bounded by the number of entries.
    loop {
        let doc = Spanned::new(span.clone(), table.clone());
        match T::deserialize(toml::de::Deserializer::from(doc)) {
            Ok(value) if errors.is_empty() => return Ok(value),
            Ok(_) => return Err(errors),
            Err(e) => {
                let duplicate = removed.iter().any(|k| e.message().contains(&format!("missing field `{k}`")));
                if !duplicate {
                    errors.push(to_config_error(file, text, &e));
                }
                let Some(at) = e.span() else { return Err(errors) };
                match remove_entry_at(&mut table, at.start) {
                    Some(key) => removed.push(key),
                    None => return Err(errors),
                }
            }
        }
    }
}

fn to_config_error(file: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_string();
    match e.span() {
        Some(span) => ConfigError::at(file, text, span.start, message),
        None => ConfigError::whole_file(file, message),
    }
}

/// Removes the innermost entry whose key or value contains `offset`; returns its key.
///
/// A `[table]`'s span covers only its header, not its body, so every table is searched
/// before its own span is considered.
fn remove_entry_at(table: &mut DeTable<'_>, offset: usize) -> Option<String> {
    let keys: Vec<String> = table.keys().map(|k| k.get_ref().to_string()).collect();
    for key in &keys {
        let value = table.get_mut(key.as_str())?;
        if remove_within(value.get_mut(), offset) {
            return Some(key.clone());
        }
    }
    let hit = table
        .iter()
        .find(|(k, v)| k.span().contains(&offset) || v.span().contains(&offset))
        .map(|(k, _)| k.get_ref().to_string())?;
    table.remove(hit.as_str());
    Some(hit)
}

/// Removes, inside a table or array value, the entry at `offset`; false if none is there.
fn remove_within(value: &mut DeValue<'_>, offset: usize) -> bool {
    match value {
        DeValue::Table(t) => remove_entry_at(t, offset).is_some(),
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                if remove_within(item.get_mut(), offset) {
                    return true;
                }
            }
            let Some(i) = items.iter().position(|v| v.span().contains(&offset)) else { return false };
            // `DeArray` has no `remove`; rebuild it without the item.
            let mut kept = DeArray::new();
            for (j, item) in items.iter().enumerate() {
                if j != i {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        a: Section,
        b: Section,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Section {
        name: String,
        #[serde(default)]
        size: u32,
    }

    #[test]
    fn reports_every_unknown_key_and_type_error_with_lines() {
        let text = "[a]\nname = \"x\"\ncolour = 1\n\n[b]\nname = \"y\"\nsize = \"big\"\nshape = 2\n";
        let errors = from_toml::<Doc>(Path::new("w.toml"), text).unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.line.unwrap()).collect();
        assert_eq!(lines, vec![3, 7, 8], "{errors:#?}");
        assert!(errors[0].message.contains("unknown field `colour`"), "{}", errors[0]);
    }

    #[test]
    fn reports_syntax_errors_with_line() {
        let errors = from_toml::<Doc>(Path::new("w.toml"), "[a]\nname = \n").unwrap_err();
        assert_eq!(errors[0].line, Some(2));
    }
}

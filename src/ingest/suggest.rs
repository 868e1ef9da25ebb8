//! The synonym lines a data officer adds to a form so that a column read today by a pattern,
//! by its values, or not at all is read for certain tomorrow.

use super::{SheetResult, SheetStatus, layout};

/// A column recognised only by a pattern of words or by its values: the synonym that would
/// make it certain, for a data officer to add to the form (or to correct, if it is wrong).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Suggestion {
    pub form: String,
    pub field: String,
    pub header: String,
    /// How the column was recognised; empty for a column of a sheet that matches no form, which
    /// may hold the one required field the sheet lacks.
    pub decided_by: String,
}

impl Suggestion {
    /// The line to act on: `pipelines/forms/returnees.toml, field arrival_date: add "返乡日期" to synonyms`.
    pub fn line(&self) -> String {
        let why = if self.decided_by.is_empty() {
            "if that column holds it: the sheet matches no form without it".to_string()
        } else {
            format!("recognised by {}", self.decided_by)
        };
        format!(
            "pipelines/forms/{}.toml, field `{}`: add \"{}\" to `synonyms` ({why})",
            self.form, self.field, self.header
        )
    }
}

impl SheetResult {
    /// The columns of a read sheet recognised only by pattern or content, with a header to add
    /// as a synonym.
    pub fn suggestions(&self) -> Vec<Suggestion> {
        if let SheetStatus::Unrecognised { closest: Some(form), hint: Some((field, headers)), .. } = &self.status {
            return headers
                .iter()
                .map(|h| crate::normalize::header::normalize(h))
                .filter(|h| !h.is_empty())
                .map(|header| Suggestion {
                    form: form.clone(),
                    field: field.clone(),
                    header: crate::privacy::redact(&header).into_owned(),
                    decided_by: String::new(),
                })
                .collect();
        }
        let Some(form) = &self.form else { return Vec::new() };
        self.headers
            .values()
            .filter_map(|h| {
                let how = h.decided_by?;
                let header = crate::normalize::header::normalize(&h.label);
                if how == layout::Evidence::Synonym || header.is_empty() {
                    return None;
                }
                Some(Suggestion {
                    form: form.clone(),
                    field: h.field.clone()?,
                    header: crate::privacy::redact(&header).into_owned(),
                    decided_by: how.describe(),
                })
            })
            .collect()
    }
}

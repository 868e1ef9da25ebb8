//! Report definitions (`pipelines/<name>/reports.toml`): which step results go in which
//! sections, for which scopes (district, town, grid), with which headers and formats.

use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::strict;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDefinition {
    /// The report's title; `{district}`, `{unit}` and `{date}` are filled in.
    pub title: String,
    /// A section of at least this many rows is written as a sheet in rust_xlsxwriter's
    /// constant-memory mode: rows go to a temporary file as they are written instead of being
    /// held in memory until the workbook is saved.
    #[serde(default = "default_constant_memory_from_rows")]
    pub constant_memory_from_rows: usize,
    /// At most this many rows of a section in the HTML report (a page for email and phones);
    /// the page says how many more the workbook holds.
    #[serde(default = "default_html_max_rows")]
    pub html_max_rows: usize,
    pub sections: Vec<Section>,
}

fn default_constant_memory_from_rows() -> usize {
    5_000
}

fn default_html_max_rows() -> usize {
    1_000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    District,
    Town,
    Grid,
    /// The day's `index.html`, the district's command-centre page (网格指挥中心): all rows, its
    /// tables sortable, with links to every unit's report below.
    Index,
}

impl Scope {
    /// The column a section's rows are filtered on for a unit of this scope.
    pub fn column(self) -> Option<&'static str> {
        match self {
            Scope::District | Scope::Index => None,
            Scope::Town => Some("town_code"),
            Scope::Grid => Some("grid_code"),
        }
    }

    pub fn folder(self) -> &'static str {
        match self {
            Scope::District => "district",
            Scope::Town => "town",
            Scope::Grid => "grid",
            Scope::Index => ".",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub title: String,
    /// The pipeline step (a mart) whose rows for the report date it shows.
    pub step: String,
    pub scopes: Vec<Scope>,
    pub columns: Vec<ColumnDef>,
    /// A 合计 row summing the numeric columns.
    #[serde(default)]
    pub total: bool,
    pub chart: Option<ChartDef>,
    /// Only the rows for which every condition holds: an exception list is a section of a
    /// step's rows filtered (`followups_overdue` above 0), not a new Rust path.
    #[serde(default)]
    pub filter: Vec<Condition>,
    /// Row order, by these columns in turn (blank values last).
    #[serde(default)]
    pub sort: Vec<SortKey>,
    /// At most this many rows on the HTML page (after the filter and the sort: the top N), which
    /// says how many more the workbook holds; the workbook has every row.
    pub limit: Option<usize>,
}

/// One condition of a section's filter: exactly one of the tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub column: String,
    /// The value as text equals this.
    pub equals: Option<String>,
    /// The value as text is not blank and does not equal this.
    pub not_equals: Option<String>,
    /// A number greater than this.
    pub above: Option<f64>,
    /// A number less than this.
    pub below: Option<f64>,
}

impl Condition {
    fn tests(&self) -> usize {
        usize::from(self.equals.is_some())
            + usize::from(self.not_equals.is_some())
            + usize::from(self.above.is_some())
            + usize::from(self.below.is_some())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    pub column: String,
    #[serde(default)]
    pub descending: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub column: String,
    pub header: String,
    /// A parent header shared by neighbouring columns (merged above them).
    pub group: Option<String>,
    pub format: Option<Format>,
    pub alert: Option<Alert>,
    /// The threshold of `amber_below`.
    pub target: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// Red when above zero (overdue counts).
    RedIfPositive,
    /// Amber when below `target` (coverage).
    AmberBelow,
}

/// A line chart of some columns summed by the `x` column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartDef {
    pub x: String,
    pub series: Vec<String>,
}

/// Loads `reports.toml` of a pipeline folder, if it has one.
pub fn load(dir: &Path) -> Result<Option<ReportDefinition>, Vec<ConfigError>> {
    let path = dir.join("reports.toml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let definition: ReportDefinition = strict::from_toml(&path, &text)?;
    let mut errors = Vec::new();
    for s in &definition.sections {
        for c in s.filter.iter().filter(|c| c.tests() != 1) {
            let at = text.find(&format!("\"{}\"", c.column)).unwrap_or(0);
            errors.push(ConfigError::at(
                &path,
                &text,
                at,
                format!(
                    "section `{}`: a filter on `{}` needs exactly one of `equals`, `not_equals`, `above`, `below`",
                    s.title, c.column
                ),
            ));
        }
        if s.limit == Some(0) {
            let at = text.find(&s.title).unwrap_or(0);
            errors.push(ConfigError::at(
                &path,
                &text,
                at,
                format!("section `{}`: `limit` must be at least 1", s.title),
            ));
        }
        for c in &s.columns {
            if c.alert == Some(Alert::AmberBelow) && c.target.is_none() {
                let at = text.find(&format!("\"{}\"", c.column)).unwrap_or(0);
                errors.push(ConfigError::at(
                    &path,
                    &text,
                    at,
                    format!("`{}`: `amber_below` needs a `target`", c.column),
                ));
            }
        }
    }
    if errors.is_empty() { Ok(Some(definition)) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_filter_with_no_test_or_two_and_a_zero_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let section = |extra: &str| {
            format!(
                "title = \"t\"\n[[sections]]\ntitle = \"s\"\nstep = \"x\"\nscopes = [\"district\"]\n{extra}\ncolumns = [{{ column = \"a\", header = \"A\" }}]\n"
            )
        };
        let load = |text: String| {
            std::fs::write(dir.path().join("reports.toml"), text).unwrap();
            super::load(dir.path()).map(|_| ()).map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())
        };
        assert!(load(section("filter = [{ column = \"a\", above = 0 }]\nlimit = 3")).is_ok());
        let errors =
            load(section("filter = [{ column = \"a\" }, { column = \"b\", above = 1, below = 2 }]\nlimit = 0"))
                .unwrap_err();
        assert_eq!(errors.iter().filter(|e| e.contains("needs exactly one of")).count(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("`limit` must be at least 1")), "{errors:?}");
    }
}

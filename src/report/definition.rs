//! Report definitions (`pipelines/<name>/reports.toml`): which step results go in which
//! sections, for which scopes (the district, and the units declared under `[[scopes]]`: towns,
//! communities, grids, buildings), with which headers and formats.

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
    /// The kinds of unit with reports of their own, in order (default: town, grid).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<ScopeDef>,
    pub sections: Vec<Section>,
}

fn default_constant_memory_from_rows() -> usize {
    5_000
}

fn default_html_max_rows() -> usize {
    1_000
}

/// The district's own report: every row.
pub const DISTRICT: &str = "district";
/// The day's `index.html`, the district's command-centre page (网格指挥中心): every row, its
/// tables sortable, with links to every unit's report below.
pub const INDEX: &str = "index";

/// A kind of unit reports are made for besides the district (镇/街道, 村/社区, 网格, 楼栋):
/// declared in `reports.toml`, not coded, so that an office adds one where its data has it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    /// Its name in `scopes = [...]` of a section, and its reports' folder (`town`).
    pub name: String,
    /// Its Chinese name in the index (镇(街道)).
    pub label: String,
    /// The step whose rows for the report date list its units, one per row.
    pub step: String,
    /// The column holding a unit's code, in that step and in every section shown for it: a
    /// unit's report holds only the rows whose column equals its code.
    pub code: String,
    /// The columns whose values, joined, are a unit's name (`["community", "grid_name"]`). A unit
    /// whose step gives no name takes it from `wangge.toml` (a city's `district.counties`), or
    /// its code.
    #[serde(default)]
    pub names: Vec<String>,
    /// For a section whose step has no `code` column: the column of codes that nest under a
    /// unit's (administrative codes do: a county's 6 digits begin each of its towns' 9), so a
    /// unit's report holds the rows whose column begins with its code (`town_code` for a county).
    #[serde(default)]
    pub prefix_of: Option<String>,
}

/// Town and grid reports, for a `reports.toml` that declares no `[[scopes]]`.
fn default_scopes() -> Vec<ScopeDef> {
    let scope = |name: &str, label: &str, step: &str, code: &str, names: &[&str]| ScopeDef {
        name: name.into(),
        label: label.into(),
        step: step.into(),
        code: code.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
        prefix_of: None,
    };
    vec![
        scope("town", "镇(街道)", "daily_town", "town_code", &["town"]),
        scope("grid", "网格", "daily_grid", "grid_code", &["community", "grid_name"]),
    ]
}

impl ReportDefinition {
    /// Sections and scopes that name a step the pipeline does not have (`steps`).
    pub fn unknown_steps(&self, path: &Path, steps: &[&str]) -> Vec<ConfigError> {
        let known = |step: &str| steps.contains(&step);
        let sections = self.sections.iter().map(|s| (format!("section `{}`", s.title), &s.step));
        let scopes = self.scopes.iter().map(|s| (format!("scope `{}`", s.name), &s.step));
        sections
            .chain(scopes)
            .filter(|(_, step)| !known(step))
            .map(|(what, step)| {
                ConfigError::whole_file(path, format!("{what} shows step `{step}`, which the pipeline does not have"))
            })
            .collect()
    }

    /// The declared scope of this name.
    pub fn scope(&self, name: &str) -> Option<&ScopeDef> {
        self.scopes.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub title: String,
    /// The pipeline step (a mart) whose rows for the report date it shows.
    pub step: String,
    /// `district`, `index` or declared scopes' names.
    pub scopes: Vec<String>,
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
    let mut errors = check_scopes(&path, &text, &definition);
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

/// Scope names are folder names, each declared once, and every section's scope is declared (a
/// scope without `names` names its units from `wangge.toml` or by their codes).
fn check_scopes(path: &Path, text: &str, definition: &ReportDefinition) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for scope in &definition.scopes {
        let at = text.find(&format!("\"{}\"", scope.name)).unwrap_or(0);
        let well_formed = !scope.name.is_empty()
            && scope.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed || [DISTRICT, INDEX, super::returns::FOLDER].contains(&scope.name.as_str()) {
            errors.push(ConfigError::at(
                path,
                text,
                at,
                format!(
                    "scope `{}`: a name is lowercase ASCII letters, digits and `_`, and not `district`, `index` or `returns`",
                    scope.name
                ),
            ));
        }
        if !seen.insert(scope.name.as_str()) {
            errors.push(ConfigError::at(path, text, at, format!("scope `{}` is declared twice", scope.name)));
        }
    }
    for section in &definition.sections {
        for name in &section.scopes {
            if name != DISTRICT && name != INDEX && definition.scope(name).is_none() {
                let declared: Vec<&str> = definition.scopes.iter().map(|s| s.name.as_str()).collect();
                errors.push(ConfigError::at(
                    path,
                    text,
                    text.find(&section.title).unwrap_or(0),
                    format!(
                        "section `{}`: scope `{name}` is not declared; scopes: district, index, {}",
                        section.title,
                        declared.join(", ")
                    ),
                ));
            }
        }
    }
    errors
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

//! Bursting a report definition into one report for the district and one per unit of each
//! declared scope (town, community, grid, building…), each holding only its own unit's rows, in
//! Excel and HTML, plus the day's `index.html`.
//!
//! Paths: `reports/<date>/district/<code>-<name>.{xlsx,html}`, `…/<scope>/<code>-<name>.…`
//! (`town/130273101-老庄子镇`, `grid/<grid code>-<community><grid>`); names from data pass through
//! [`super::safe_file_component`], so none can leave the reports folder.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::definition::{DISTRICT, INDEX, ReportDefinition, ScopeDef};
use super::table::Table;
use super::{html, safe_file_component, view, xlsx};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the workbook `{}`", path.display())]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot render `{template}`")]
    Template {
        template: String,
        #[source]
        source: tera::Error,
    },
}

/// Row numbers of a step's table by (step, scope column, prefix length or 0) and the unit code
/// in that column (or its prefix of that length).
type RowGroups<'a> = HashMap<(&'a str, &'a str, usize), HashMap<&'a str, Vec<usize>>>;

/// One unit a report is made for.
#[derive(Debug, Clone)]
pub struct Unit {
    /// `district` or a declared scope's name.
    pub scope: String,
    pub code: String,
    /// The unit's name as shown (高新区, 老庄子镇, 东坪村第1网格).
    pub name: String,
}

/// What one day's reports need.
pub struct DailyReports<'a> {
    pub definition: &'a ReportDefinition,
    /// Each section step's rows for the report date.
    pub tables: &'a BTreeMap<String, Table>,
    pub district: Unit,
    /// Names of units whose step gives none, by code (a city's counties from `wangge.toml`).
    pub unit_names: &'a BTreeMap<String, String>,
    pub report_date: NaiveDate,
    /// `reports/<date>/`.
    pub out_dir: &'a Path,
    pub templates: &'a tera::Tera,
    /// 退回修改 workbooks of the day, listed in the index.
    pub returns: &'a [PathBuf],
    pub threads: usize,
}

/// The district, then the units of each declared scope, as its step lists them for the day. A
/// row with no code (未定网格: orders whose grid is unknown) is no unit's: the district's
/// report shows it, no town's.
pub fn units(
    district: &Unit,
    definition: &ReportDefinition,
    tables: &BTreeMap<String, Table>,
    unit_names: &BTreeMap<String, String>,
) -> Vec<Unit> {
    let mut out = vec![district.clone()];
    for scope in &definition.scopes {
        let Some(t) = tables.get(&scope.step) else { continue };
        let Some(code) = t.index(&scope.code) else { continue };
        let names: Vec<usize> = scope.names.iter().filter_map(|n| t.index(n)).collect();
        let mut seen = std::collections::BTreeSet::new();
        for r in &t.rows {
            let code = view::label(&r[code]);
            if code.is_empty() || !seen.insert(code.clone()) {
                continue;
            }
            let mut name = names.iter().map(|i| view::label(&r[*i])).collect::<String>();
            if name.is_empty() {
                name = unit_names.get(&code).cloned().unwrap_or_else(|| code.clone());
            }
            out.push(Unit { scope: scope.name.clone(), code, name });
        }
    }
    out
}

/// The column a section's table is cut on for a unit of `scope` whose code is `length` bytes,
/// and the prefix length (0: the whole value): the scope's code column where the table has
/// it, else its `prefix_of` column (a county's rows by its towns' codes).
fn cut<'s>(scope: &'s ScopeDef, table: &Table, length: usize) -> (&'s str, usize) {
    match &scope.prefix_of {
        Some(column) if table.index(&scope.code).is_none() => (column.as_str(), length),
        _ => (scope.code.as_str(), 0),
    }
}

fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

impl DailyReports<'_> {
    fn title(&self, unit: &Unit) -> String {
        let place = if unit.scope == DISTRICT {
            self.district.name.clone()
        } else {
            format!("{}{}", self.district.name, unit.name)
        };
        self.definition
            .title
            .replace("{district}", &place)
            .replace("{unit}", &unit.name)
            .replace("{date}", &chinese_date(self.report_date))
    }

    /// The file stem of a unit's report, relative to the day's folder.
    pub fn relative(&self, unit: &Unit) -> PathBuf {
        Path::new(&unit.scope).join(format!("{}-{}", safe_file_component(&unit.code), safe_file_component(&unit.name)))
    }

    /// Writes one unit's workbook and HTML; returns their paths.
    fn write_unit(&self, unit: &Unit, groups: &RowGroups) -> Result<[PathBuf; 2], ReportError> {
        let empty = Table::default();
        let sections: Vec<view::SectionView> = self
            .definition
            .sections
            .iter()
            .filter(|s| s.scopes.contains(&unit.scope))
            .map(|s| {
                let table = self.tables.get(&s.step).unwrap_or(&empty);
                // Only the unit's own rows.
                let rows = self.definition.scope(&unit.scope).map(|scope| {
                    let (column, prefix) = cut(scope, table, unit.code.len());
                    let rows = groups.get(&(s.step.as_str(), column, prefix)).and_then(|g| g.get(unit.code.as_str()));
                    rows.map_or(&[][..], Vec::as_slice)
                });
                view::section(s, table, rows)
            })
            .collect();
        let title = self.title(unit);
        let stem = self.out_dir.join(self.relative(unit));
        let dir = stem.parent().expect("a scope folder").to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| ReportError::Io { path: dir.clone(), source })?;
        let workbook = stem.with_extension("xlsx");
        let options = xlsx::Options {
            constant_memory_from_rows: self.definition.constant_memory_from_rows,
            temp_dir: self.out_dir,
        };
        xlsx::write(&workbook, &title, &sections, self.report_date, &options)
            .map_err(|source| ReportError::Xlsx { path: workbook.clone(), source })?;
        let mut context = tera::Context::new();
        context.insert("title", &title);
        context.insert("unit", &unit.name);
        context.insert("report_date", &chinese_date(self.report_date));
        let max_rows = self.definition.html_max_rows;
        context.insert("sections", &sections.iter().map(|s| html::section(s, max_rows)).collect::<Vec<_>>());
        let page = stem.with_extension("html");
        write_html(self.templates, "daily.html", &context, &page)?;
        Ok([workbook, page])
    }

    /// Writes every unit's reports (in parallel) and the index; returns every path written.
    pub fn write_all(&self) -> Result<Vec<PathBuf>, ReportError> {
        let units = units(&self.district, self.definition, self.tables, self.unit_names);
        let groups = self.row_groups(&units);
        let groups = &groups;
        // Each thread takes the next unit as it finishes one: the district and town reports are
        // much larger than a grid's, so fixed shares would leave a thread idle at the end.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let next = &next;
        let units_ref = &units;
        let mut results: Vec<(usize, Result<[PathBuf; 2], ReportError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..self.threads.clamp(1, units.len().max(1)))
                .map(|_| {
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(unit) = units_ref.get(i) else { break };
                            done.push((i, self.write_unit(unit, groups)));
                        }
                        done
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("report writers do not panic")).collect()
        });
        results.sort_by_key(|(i, _)| *i);
        let mut written = Vec::new();
        for (_, r) in results {
            written.extend(r?);
        }
        written.push(self.write_index(&units)?);
        Ok(written)
    }

    /// Each section step's rows grouped by each scope column it is cut on (and prefix length,
    /// for the units' codes of a scope cut by prefix).
    fn row_groups(&self, units: &[Unit]) -> RowGroups<'_> {
        let mut groups = RowGroups::new();
        for section in &self.definition.sections {
            let Some(table) = self.tables.get(&section.step) else { continue };
            for scope in section.scopes.iter().filter_map(|s| self.definition.scope(s)) {
                let lengths: std::collections::BTreeSet<usize> =
                    units.iter().filter(|u| u.scope == scope.name).map(|u| u.code.len()).collect();
                for length in lengths {
                    let (column, prefix) = cut(scope, table, length);
                    groups
                        .entry((section.step.as_str(), column, prefix))
                        .or_insert_with(|| table.row_groups(column, prefix));
                }
            }
        }
        groups
    }

    fn write_index(&self, units: &[Unit]) -> Result<PathBuf, ReportError> {
        #[derive(Serialize)]
        struct Link {
            href: String,
            text: String,
        }
        #[derive(Serialize)]
        struct Group {
            title: String,
            links: Vec<Link>,
        }
        let href = |p: &Path| p.to_string_lossy().replace('\\', "/");
        let mut groups = Vec::new();
        let scopes = std::iter::once((DISTRICT, "全区"))
            .chain(self.definition.scopes.iter().map(|s| (s.name.as_str(), s.label.as_str())));
        for (scope, title) in scopes {
            let mut links = Vec::new();
            for u in units.iter().filter(|u| u.scope == scope) {
                let stem = self.relative(u);
                links.push(Link { href: href(&stem.with_extension("html")), text: format!("{} {}", u.code, u.name) });
                links.push(Link {
                    href: href(&stem.with_extension("xlsx")),
                    text: format!("{} {}（Excel）", u.code, u.name),
                });
            }
            groups.push(Group { title: title.to_string(), links });
        }
        let returns = self
            .returns
            .iter()
            .filter_map(|p| p.strip_prefix(self.out_dir).ok())
            .map(|p| Link {
                href: href(p),
                text: p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            })
            .collect();
        groups.push(Group { title: "退回修改".to_string(), links: returns });
        // The command centre's sections (scope `index`): the district's figures, its units and
        // their exceptions, the trend; every row, as the page is the district's own.
        let empty = Table::default();
        let sections: Vec<_> = self
            .definition
            .sections
            .iter()
            .filter(|s| s.scopes.iter().any(|n| n == INDEX))
            .map(|s| html::section(&view::section(s, self.tables.get(&s.step).unwrap_or(&empty), None), usize::MAX))
            .collect();
        let mut context = tera::Context::new();
        context.insert(
            "title",
            &format!("{}网格指挥中心 · 网格化管理日报（{}）", self.district.name, chinese_date(self.report_date)),
        );
        context.insert("report_date", &chinese_date(self.report_date));
        context.insert("sections", &sections);
        context.insert("groups", &groups);
        let page = self.out_dir.join("index.html");
        write_html(self.templates, "index.html", &context, &page)?;
        Ok(page)
    }
}

fn write_html(templates: &tera::Tera, name: &str, context: &tera::Context, path: &Path) -> Result<(), ReportError> {
    let text = templates
        .render(name, context)
        .map_err(|source| ReportError::Template { template: name.to_string(), source })?;
    crate::atomic_file::write(path, text.as_bytes())
        .map_err(|source| ReportError::Io { path: path.to_path_buf(), source })?;
    crate::failpoint::hit("reports.file");
    Ok(())
}

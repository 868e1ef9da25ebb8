//! Incremental steps: a step whose answer for a day depends on the whole history (each
//! returnee's latest registration, each work order as it stood, each register person's last
//! visit) is built from its own mart of
//! an earlier date and the rows reported since, so that a year's history costs a day's work.
//!
//! Only when that is safe: beside each mart partition of an incremental step the run writes a
//! state file (`warehouse/_state/<step>/report_date=<D>`) naming the fingerprint of everything
//! the mart was made from (the SQL of the step and of the steps it reads, the parameters, and
//! the ledger's entries of the tables it reads up to D: each source file's sheets, by sha256,
//! status and counts) and the digest of the mart file itself. A later run takes the latest such
//! mart whose fingerprint the warehouse still gives (a late or corrected file for an earlier
//! day changes it, and so does a new pipeline), and otherwise runs the step's full SQL. Either
//! way the rows are the same, and the mart's bytes too (marts are sorted by every column):
//! a test holds the two to that. A step over a register (`rebuild_on_new`) runs its full SQL
//! when a new snapshot of it came since: the rows it carries were the old register's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::digest::{hex, sha256_of};

use super::engine::PARTITION;
use super::pipeline::{Pipeline, Step};
use super::{SqlError, mart_file};

/// Where state files live, inside the warehouse (beside `marts/`, not in it: every folder of
/// `marts/` is a table).
pub const STATE: &str = "_state";

/// How far back a run looks for a mart to build on; past it the full SQL is as cheap.
const CANDIDATES: usize = 31;

/// What a run of an incremental step does for its date.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The date of the mart to build on, or `None` for the full SQL.
    pub previous: Option<NaiveDate>,
    /// The fingerprint of the step's inputs up to the run's date, as they are now.
    fingerprint: String,
}

/// What a step reads of one table and day: table, report date, the digest of the ledger's
/// entries that fill it.
type Input = (String, NaiveDate, String);

/// Decides how `step` runs for `report_date`, the warehouse being what `ledger` says.
pub fn plan(warehouse_root: &Path, ledger: &Ledger, pipeline: &Pipeline, step: &Step, report_date: NaiveDate) -> Plan {
    let (definition, tables) = closure(pipeline, step);
    let inputs = list_inputs(ledger, &tables);
    let fingerprint = fingerprint(&definition, &inputs, report_date);
    let true_to_warehouse = |d: &NaiveDate| {
        read_state(warehouse_root, &step.name, *d).is_some_and(|(inputs_then, mart_then)| {
            inputs_then == self::fingerprint(&definition, &inputs, *d)
                && sha256_of(&mart_file(warehouse_root, &step.name, *d)).as_deref() == Some(mart_then.as_str())
        })
    };
    // A new snapshot since that mart (a new register): the rows it carries were the old one's.
    let snapshots: &[String] = step.incremental.as_ref().map_or(&[], |inc| &inc.rebuild_on_new);
    let no_new_snapshot = |d: &NaiveDate| {
        !inputs.iter().any(|(table, day, ..)| day > d && *day <= report_date && snapshots.contains(table))
    };
    let previous = state_dates(warehouse_root, &step.name)
        .into_iter()
        .filter(|d| *d < report_date)
        .rev()
        .take(CANDIDATES)
        .find(true_to_warehouse)
        .filter(no_new_snapshot);
    Plan { previous, fingerprint }
}

/// Removes the state of `step` for `date`, before its mart is written again: a run killed
/// between the two leaves a mart without state, which is never built on.
pub fn forget(warehouse_root: &Path, step: &str, date: NaiveDate) -> Result<(), SqlError> {
    let path = state_file(warehouse_root, step, date);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SqlError::Io { path, source }),
    }
}

/// Records what the mart of `step` for `date`, just written at `mart`, was made from.
pub fn remember(warehouse_root: &Path, step: &str, date: NaiveDate, plan: &Plan, mart: &Path) -> Result<(), SqlError> {
    let digest = sha256_of(mart).ok_or_else(|| SqlError::Io {
        path: mart.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "the mart just written is gone"),
    })?;
    let path = state_file(warehouse_root, step, date);
    let text = format!("inputs {}\nmart {digest}\n", plan.fingerprint);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| SqlError::Io { path: dir.to_path_buf(), source })?;
    }
    crate::atomic_file::write(&path, text.as_bytes()).map_err(|source| SqlError::Io { path, source })
}

fn state_file(warehouse_root: &Path, step: &str, date: NaiveDate) -> PathBuf {
    warehouse_root.join(STATE).join(step).join(format!("{PARTITION}={date}"))
}

/// The dates `step` has state for, in order.
fn state_dates(warehouse_root: &Path, step: &str) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = std::fs::read_dir(warehouse_root.join(STATE).join(step))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| partition_date(&e.file_name().to_string_lossy()))
        .collect();
    dates.sort();
    dates
}

/// (inputs fingerprint, mart digest) of a state file, if it is whole.
fn read_state(warehouse_root: &Path, step: &str, date: NaiveDate) -> Option<(String, String)> {
    let text = std::fs::read_to_string(state_file(warehouse_root, step, date)).ok()?;
    let mut inputs = None;
    let mut mart = None;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("inputs", v)) => inputs = Some(v.to_string()),
            Some(("mart", v)) => mart = Some(v.to_string()),
            _ => return None,
        }
    }
    Some((inputs?, mart?))
}

fn partition_date(name: &str) -> Option<NaiveDate> {
    let value = name.strip_prefix(PARTITION)?.strip_prefix('=')?;
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// The text that defines a step (its SQL, the SQL of every step it reads, directly or through
/// others, and the pipeline's parameters), and the warehouse tables under all of them.
fn closure(pipeline: &Pipeline, step: &Step) -> (String, BTreeSet<String>) {
    let steps: BTreeMap<&str, &Step> = pipeline.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut tables = BTreeSet::new();
    let mut todo = vec![step];
    while let Some(s) = todo.pop() {
        if !seen.insert(s.name.as_str()) {
            continue;
        }
        for name in &s.reads {
            match steps.get(name.as_str()) {
                Some(upstream) => todo.push(upstream),
                None => {
                    tables.insert(name.clone());
                }
            }
        }
    }
    let mut definition = String::new();
    for name in &seen {
        let s = steps[name];
        definition.push_str(&format!("step {name}\n{}\n", s.sql));
        if let Some(inc) = &s.incremental {
            definition.push_str(&format!("incremental\n{}\n", inc.sql));
        }
    }
    for (key, value) in &pipeline.params {
        definition.push_str(&format!("param {key} = {value:?}\n"));
    }
    (definition, tables)
}

/// What the ledger says the warehouse holds, day by day: read once for all of a run's
/// incremental steps (reading it for each took 0.2 s a step over a year), and summed up once
/// into a digest per form and day, so that a step's fingerprint hashes a line a day, not an
/// entry (over a year, hashing the 56,387 entries for each step and candidate date took
/// 30 ms a step).
pub struct Ledger {
    /// The digest of each form's entries of each day (`None`: entries of no form), or why
    /// the ledger could not be read.
    days: Result<BTreeMap<(Option<String>, NaiveDate), String>, String>,
}

impl Ledger {
    pub fn read(warehouse_root: &Path) -> Ledger {
        let warehouse = crate::warehouse::Warehouse::new(warehouse_root.to_path_buf());
        let mut entries = DayEntries::default();
        let read = warehouse.ledger_identities(&mut |form, date, name, size| entries.add(form, date, name, size));
        Ledger { days: read.map(|()| entries.digests()).map_err(|e| e.to_string()) }
    }
}

/// Each (form, day)'s entries, each as the hash of its identity and counts.
#[derive(Default)]
struct DayEntries {
    forms: Vec<Option<String>>,
    days: BTreeMap<(usize, NaiveDate), Vec<[u8; 32]>>,
}

impl DayEntries {
    fn add(&mut self, form: Option<&str>, date: NaiveDate, name: &str, size: u64) {
        let form = match self.forms.iter().position(|f| f.as_deref() == form) {
            Some(i) => i,
            None => {
                self.forms.push(form.map(str::to_string));
                self.forms.len() - 1
            }
        };
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update(size.to_le_bytes());
        self.days.entry((form, date)).or_default().push(hasher.finalize().into());
    }

    /// The digest of each (form, day): of its entries' hashes in order, so that the order
    /// files were listed or compacted in does not matter, and an entry twice counts twice.
    fn digests(self) -> BTreeMap<(Option<String>, NaiveDate), String> {
        self.days
            .into_iter()
            .map(|((form, date), mut hashes)| {
                hashes.sort_unstable();
                let mut hasher = Sha256::new();
                for hash in &hashes {
                    hasher.update(hash);
                }
                ((self.forms[form].clone(), date), hex(&hasher.finalize()))
            })
            .collect()
    }
}

/// What the warehouse holds of `tables`, day by day, in order: a digest of the ledger's entries
/// that fill each table each day (the sheets of each source file, by sha256, with their status,
/// counts and the forms they were read with). A table's rows of a day are made from those
/// alone, so the listing stays the same when compaction rewrites the files (a month's file
/// changes every day; the entries of the days before do not), and changes when a late or
/// corrected file comes. The ledger and the rejects are filled by every form's entries.
fn list_inputs(ledger: &Ledger, tables: &BTreeSet<String>) -> Vec<Input> {
    use crate::warehouse::{LEDGER, REJECTS};
    let days = match &ledger.days {
        Ok(days) => days,
        // Nothing is built on what cannot be checked.
        Err(e) => return vec![("!".into(), NaiveDate::MIN, format!("the ledger cannot be read: {e}"))],
    };
    let mut inputs = Vec::new();
    for table in tables {
        if table == REJECTS || table == LEDGER {
            let mut every_form: BTreeMap<NaiveDate, String> = BTreeMap::new();
            for ((form, date), digest) in days {
                let line = every_form.entry(*date).or_default();
                line.push_str(&format!("{}={digest};", form.as_deref().unwrap_or("")));
            }
            inputs.extend(every_form.into_iter().map(|(date, line)| (table.clone(), date, line)));
        } else {
            let of_table = days.iter().filter(|((form, _), _)| form.as_deref() == Some(table.as_str()));
            inputs.extend(of_table.map(|((_, date), digest)| (table.clone(), *date, digest.clone())));
        }
    }
    inputs.sort();
    inputs
}

/// The fingerprint of a definition over the inputs of dates up to `date`.
fn fingerprint(definition: &str, inputs: &[Input], date: NaiveDate) -> String {
    let mut hasher = Sha256::new();
    hasher.update(definition.as_bytes());
    for (table, day, digest) in inputs.iter().filter(|i| i.1 <= date) {
        hasher.update(format!("{table}/{day}/{digest}\n").as_bytes());
    }
    hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(table: &str, day: &str, name: &str) -> Input {
        (table.into(), day.parse().unwrap(), name.into())
    }

    #[test]
    fn a_fingerprint_sees_only_the_days_up_to_its_date() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let before =
            vec![input("visits", "2022-05-01", "part-a.parquet"), input("visits", "2022-05-02", "part-b.parquet")];
        let mut after = before.clone();
        after.push(input("visits", "2022-05-03", "part-c.parquet"));
        assert_eq!(fingerprint("x", &before, d("2022-05-02")), fingerprint("x", &after, d("2022-05-02")));
        assert_ne!(fingerprint("x", &before, d("2022-05-03")), fingerprint("x", &after, d("2022-05-03")));
        // A corrected file for an earlier day changes every later fingerprint.
        let mut corrected = after.clone();
        corrected[0].2 = "part-z.parquet".into();
        assert_ne!(fingerprint("x", &after, d("2022-05-02")), fingerprint("x", &corrected, d("2022-05-02")));
        assert_ne!(fingerprint("x", &after, d("2022-05-02")), fingerprint("y", &after, d("2022-05-02")));
    }

    #[test]
    fn a_mart_is_built_on_while_true_to_the_warehouse_and_not_after_a_new_register() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        // A source file ingested: its ledger entry (what the fingerprint is made of).
        let file = |table: &str, day: &str, name: &str| {
            use arrow::array::{ArrayRef, Date32Array, StringArray};
            use std::sync::Arc;
            let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
            let days = (day.parse::<NaiveDate>().unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
            let columns = vec![
                ("path", text(name)),
                ("sha256", text(name)),
                ("sheet", text("Sheet1")),
                ("status", text("read")),
                ("form", text(table)),
                ("community_code", text("1")),
                ("report_date", Arc::new(Date32Array::from(vec![days as i32])) as ArrayRef),
            ];
            let batch = arrow::array::RecordBatch::try_from_iter(columns).unwrap();
            let path = crate::warehouse::Warehouse::new(root).file(crate::warehouse::LEDGER, day, name);
            crate::warehouse::parquet_io::write(&path, batch.schema(), &batch).unwrap();
        };
        file("special_population", "2022-05-01", "part-a.parquet");
        file("visits", "2022-05-08", "part-b.parquet");
        let step = |rebuild_on_new: Vec<String>| Step {
            name: "latest".into(),
            file: None,
            sql: "SELECT 1".into(),
            materialize: crate::sql::pipeline::Materialize::Parquet,
            checks: Vec::new(),
            depends_on: Vec::new(),
            reads: ["special_population".to_string(), "visits".to_string()].into(),
            incremental: Some(crate::sql::pipeline::IncrementalSql {
                file: PathBuf::new(),
                sql: "SELECT 2".into(),
                rebuild_on_new,
            }),
            split: None,
        };
        let pipeline = |step: Step| Pipeline {
            name: "p".into(),
            dir: PathBuf::new(),
            description: None,
            params: BTreeMap::new(),
            steps: vec![step],
        };
        let (p, d) = ("2022-05-08".parse().unwrap(), "2022-05-09".parse().unwrap());
        let plain = pipeline(step(Vec::new()));
        let register = pipeline(step(vec!["special_population".into()]));
        // The mart of the 8th and its state.
        let first = plan(root, &Ledger::read(root), &plain, &plain.steps[0], p);
        assert_eq!(first.previous, None);
        let mart = mart_file(root, "latest", p);
        std::fs::create_dir_all(mart.parent().unwrap()).unwrap();
        std::fs::write(&mart, b"mart").unwrap();
        remember(root, "latest", p, &first, &mart).unwrap();
        // The 9th's visits change nothing under the 8th's mart.
        file("visits", "2022-05-09", "part-c.parquet");
        assert_eq!(plan(root, &Ledger::read(root), &plain, &plain.steps[0], d).previous, Some(p));
        assert_eq!(plan(root, &Ledger::read(root), &register, &register.steps[0], d).previous, Some(p));
        // A new register on the 9th: only the step over the register runs its full SQL.
        file("special_population", "2022-05-09", "part-d.parquet");
        assert_eq!(plan(root, &Ledger::read(root), &plain, &plain.steps[0], d).previous, Some(p));
        assert_eq!(plan(root, &Ledger::read(root), &register, &register.steps[0], d).previous, None);
        // A late file for the 8th: no mart to build on.
        file("visits", "2022-05-08", "part-e.parquet");
        assert_eq!(plan(root, &Ledger::read(root), &plain, &plain.steps[0], d).previous, None);
        // Nor when the mart is not the one the state names.
        std::fs::remove_file(crate::warehouse::Warehouse::new(root).file(
            crate::warehouse::LEDGER,
            "2022-05-08",
            "part-e.parquet",
        ))
        .unwrap();
        assert_eq!(plan(root, &Ledger::read(root), &plain, &plain.steps[0], d).previous, Some(p));
        std::fs::write(&mart, b"other").unwrap();
        assert_eq!(plan(root, &Ledger::read(root), &plain, &plain.steps[0], d).previous, None);
    }

    #[test]
    fn a_state_file_that_is_not_whole_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let date = "2022-05-10".parse().unwrap();
        let path = state_file(dir.path(), "s", date);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "inputs abc\n").unwrap();
        assert_eq!(read_state(dir.path(), "s", date), None);
        std::fs::write(&path, "inputs abc\nmart def\n").unwrap();
        assert_eq!(read_state(dir.path(), "s", date), Some(("abc".into(), "def".into())));
        std::fs::write(&path, "inputs abc\nmart def\nrubbish").unwrap();
        assert_eq!(read_state(dir.path(), "s", date), None);
        assert_eq!(state_dates(dir.path(), "s"), vec![date]);
    }
}

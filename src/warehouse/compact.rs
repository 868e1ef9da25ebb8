//! Compaction: each table's year (`<table>/report_year=YYYY/`) holds a few files, in tiers
//! (`tiers`): the open month's part, the part of the year's other months, instead of one file
//! per source file and day. Opening files is what a year of history cost (82,568 files: an
//! analyst's first DuckDB query took seconds, the daily run five times longer on day 366 than
//! on day 10), not reading rows.
//!
//! Ingest still writes one file per source file and day (its unit of commit, see `journal`);
//! at the end of each batch the years it touched are compacted: the day files of the open
//! month merge into its part, those of another month (a late file) into the year's part, and
//! an open part whose month has closed into its year's part. A part's rows come out sorted by
//! county (`crate::county`: its row groups hold a county at a time, `parquet_io::PartWriter`),
//! report date (so that a reader of one day skips the rest by the row groups' and pages'
//! statistics), source (file, sha256, sheet, row) and then every column, so the same rows give
//! the same bytes whichever history of files they arrived in. Rows keep their source in
//! `source_sha256`, so a corrected sheet replaces rows, not files (`replace`).
//!
//! Files of `LEAVE_FROM_BYTES` or more (a streamed workbook of a few hundred thousand rows, a
//! year's part grown that big) are left as they are: they are already big enough that opening
//! them costs nothing next to reading them, and rewriting them at every month's close would
//! cost more than it saves. The files of a group are merged a bounded part at a time
//! (`merge`), not held: memory does not grow with a group.
//!
//! A warehouse of an earlier layout has a folder per month (`report_month=YYYY-MM/`) or per day
//! (`report_date=YYYY-MM-DD/`, no `report_date` column): compacting a year takes in its
//! months' and days' folders too, each row of a day folder given the date of its folder, and
//! removes them (`migrate`).
//!
//! Crash safety: the new files are written under temporary names and synced; then
//! `_compact_pending` lists each new file with the files it replaces (synced); then the new
//! files are renamed into place and the old ones removed; then the list goes. A run that finds
//! the list finishes the removals of every new file that is in place (`recover`); a new file
//! not yet in place is a temporary file, which `reconcile` removes, and its inputs stay.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::legacy::{big_legacy_files, legacy_folders, moved, remove_empty_legacy_folders};
use super::merge::{self, Merged};
use super::tiers::{self, Kind};
use super::{WarehouseError, journal, parquet_io};

pub use super::legacy::{has_legacy_folders, partitions, sha_lookup};
pub use super::tiers::PART;
const PENDING: &str = "_compact_pending";
/// Files this big are left as they are (see the module comment).
pub(super) const LEAVE_FROM_BYTES: u64 = 64 << 20;

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io { path: path.to_path_buf(), source }
}

pub(super) fn arrow_err(path: &Path) -> impl FnOnce(arrow::error::ArrowError) -> WarehouseError + '_ {
    move |source| WarehouseError::Arrow { path: path.to_path_buf(), source }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compacted {
    pub partitions: usize,
    pub files_in: usize,
    pub files_out: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub rows: u64,
    /// Partitions left as they were because their files disagree on a column's type: (folder,
    /// column). Readers see them as before; nothing is lost.
    pub conflicts: Vec<(PathBuf, String)>,
}

impl Compacted {
    /// Adds another compaction's figures to these.
    pub fn absorb(&mut self, other: Compacted) {
        self.partitions += other.partitions;
        self.files_in += other.files_in;
        self.files_out += other.files_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.rows += other.rows;
        self.conflicts.extend(other.conflicts);
    }
}

pub fn is_part(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(PART))
}

/// Files merged into one part: the open month's (`open`), or the year's others'.
struct Group {
    open: Option<String>,
    files: Vec<(PathBuf, u64)>,
}

/// The finished Parquet files of a folder, with their sizes.
pub(super) fn finished(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| parquet_io::is_finished(p))
        .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
        .collect()
}

/// The groups of the year folder `dir` that need merging (see `tiers`), given its table's open
/// month: the files of the open month, and those of the year's other months, each with the
/// folders of an earlier layout's months and days of the year. A group needs it when it has two
/// or more files, or one that is not yet its part, or (`verify`) a part that no longer holds the
/// bytes its name says (a correction took rows out of it: reading a year's part to tell is
/// left to the runs that made corrections, and to `wangge compact`).
fn groups(dir: &Path, open: Option<&str>, verify: bool) -> Vec<Group> {
    let year = tiers::year_of(dir).unwrap_or_default();
    let open = open.filter(|m| m.get(..4) == Some(year.as_str()));
    let mut files: Vec<(PathBuf, u64, Option<String>)> = finished(dir)
        .into_iter()
        .map(|(p, len)| {
            let month = tiers::named_month(&p);
            (p, len, month)
        })
        .collect();
    for (folder, month) in legacy_folders(dir) {
        files.extend(finished(&folder).into_iter().map(|(p, len)| (p, len, Some(month.clone()))));
    }
    files.retain(|(_, len, _)| *len < LEAVE_FROM_BYTES);
    files.sort();
    let (of_open, others): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|(_, _, m)| open.is_some() && m.as_deref() == open);
    let mut out = Vec::new();
    for (files, open) in [(of_open, open), (others, None)] {
        let is_part = |p: &Path| {
            p.parent() == Some(dir)
                && match open {
                    Some(m) => tiers::kind_of(p) == Kind::Open(m.to_string()),
                    None => tiers::kind_of(p) == Kind::Year,
                }
        };
        let needed = match files.as_slice() {
            [] => false,
            [(only, _, _)] => !is_part(only) || (verify && !named_by_content(only, open)),
            _ => true,
        };
        if needed {
            out.push(Group {
                open: open.map(String::from),
                files: files.into_iter().map(|(p, l, _)| (p, l)).collect(),
            });
        }
    }
    out
}

fn named_by_content(path: &Path, open: Option<&str>) -> bool {
    let Some(sha) = crate::digest::sha256_of(path) else { return true };
    path.file_name().is_some_and(|n| n.to_string_lossy() == tiers::part_name(open, &sha))
}

fn unreadable(path: &Path) -> WarehouseError {
    io(path)(std::io::Error::other("cannot be read back to name it by its content"))
}

/// A new file in waiting: its temporary path, where it goes, and the files it replaces.
pub(super) struct Pending {
    pub(super) tmp: PathBuf,
    pub(super) part: PathBuf,
    pub(super) inputs: Vec<PathBuf>,
}

/// Compacts each year folder in `dirs` that needs it, and any other year folder of their
/// tables whose open part's month has closed (a year ends when the next one's rows arrive).
/// `verify`: whether a part that is alone in its tier is read to tell if a correction changed
/// it (see `groups`). `sha_of` gives the full sha256 of a source file from the 16 hex digits an
/// earlier layout named its files by (rows written before `source_sha256` existed get it from
/// their file's name).
pub fn compact(
    root: &Path,
    dirs: &[PathBuf],
    verify: bool,
    sha_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Compacted, WarehouseError> {
    let mut done = Compacted::default();
    let mut pending = Vec::new();
    let mut open_of: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut all: Vec<PathBuf> = dirs.to_vec();
    for dir in dirs {
        let Some(table) = dir.parent() else { continue };
        if !open_of.contains_key(table) {
            let open = tiers::open_month(table);
            all.extend(closed_open_parts(table, open.as_deref()));
            open_of.insert(table.to_path_buf(), open);
        }
    }
    all.sort();
    all.dedup();
    for dir in &all {
        let open = dir.parent().and_then(|t| open_of.get(t)).cloned().flatten();
        let mut alone = big_legacy_files(dir);
        for group in groups(dir, open.as_deref(), verify) {
            let files = group.files;
            // Each tier its own temporary name: both of a year may be written at once.
            let template = dir.join(format!("{PART}{}.parquet", group.open.as_deref().unwrap_or("year")));
            match merge::merge(dir, &template, &files, sha_of)? {
                Merged::Written { tmp, rows } => {
                    let sha = crate::digest::sha256_of(&tmp).ok_or_else(|| unreadable(&tmp))?;
                    let part = dir.join(tiers::part_name(group.open.as_deref(), &sha));
                    done.partitions += 1;
                    done.files_in += files.len();
                    done.files_out += 1;
                    done.bytes_in += files.iter().map(|(_, len)| len).sum::<u64>();
                    done.bytes_out += std::fs::metadata(&tmp).map_err(io(&tmp))?.len();
                    done.rows += rows;
                    pending.push(Pending { tmp, part, inputs: files.into_iter().map(|(p, _)| p).collect() });
                }
                // Files that disagree stay apart; those of an earlier layout's folders still move.
                Merged::Conflict(column) => {
                    done.conflicts.push((dir.to_path_buf(), column));
                    alone.extend(files.into_iter().map(|(p, _)| p).filter(|p| p.parent() != Some(dir.as_path())));
                }
            }
        }
        for path in alone {
            let moved = moved(dir, &path, sha_of)?;
            done.files_in += 1;
            if !moved.tmp.as_os_str().is_empty() {
                done.files_out += 1;
            }
            pending.push(moved);
        }
    }
    if pending.is_empty() {
        return Ok(done);
    }
    // An empty file of a day folder has no new file: it just goes.
    let (empty, pending): (Vec<Pending>, Vec<Pending>) =
        pending.into_iter().partition(|p| p.tmp.as_os_str().is_empty());
    let tmps: Vec<PathBuf> = pending.iter().map(|p| p.tmp.clone()).collect();
    parquet_io::sync_written(root, &tmps)?;
    begin(root, &pending)?;
    for p in &pending {
        std::fs::rename(&p.tmp, &p.part).map_err(io(&p.part))?;
    }
    sync_dirs(&pending)?;
    crate::failpoint::hit("warehouse.compact");
    for p in pending.iter().chain(&empty) {
        remove_inputs(&p.part, &p.inputs)?;
    }
    journal::remove_list(root, PENDING)?;
    remove_empty_legacy_folders(pending.iter().chain(&empty));
    Ok(done)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

/// Lists every new file and the files it replaces, durably, before any is renamed into place.
fn begin(root: &Path, pending: &[Pending]) -> Result<(), WarehouseError> {
    let mut text = String::new();
    for p in pending {
        text.push_str(&relative(root, &p.part));
        for input in &p.inputs {
            text.push('\t');
            text.push_str(&relative(root, input));
        }
        text.push('\n');
    }
    journal::write_list(root, PENDING, &text)
}

/// The renames are on disk before any input is removed.
fn sync_dirs(pending: &[Pending]) -> Result<(), WarehouseError> {
    let mut dirs: Vec<&Path> = pending.iter().filter_map(|p| p.part.parent()).collect();
    dirs.dedup();
    for dir in dirs {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

fn remove_inputs(part: &Path, inputs: &[PathBuf]) -> Result<(), WarehouseError> {
    for input in inputs.iter().filter(|i| i.as_path() != part) {
        match std::fs::remove_file(input) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(input)(e)),
            _ => {}
        }
    }
    Ok(())
}

/// The year folders of the table in `table_dir` holding an open part of a month other than
/// the table's open month: that month has closed, and its part joins its year's.
fn closed_open_parts(table_dir: &Path, open: Option<&str>) -> Vec<PathBuf> {
    year_folders(table_dir)
        .into_iter()
        .filter(|dir| {
            finished(dir).iter().any(|(p, _)| matches!(tiers::kind_of(p), Kind::Open(m) if Some(m.as_str()) != open))
        })
        .collect()
}

fn year_folders(table_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(table_dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| tiers::year_of(p).is_some()).collect();
    dirs.sort();
    dirs
}

/// Finishes a compaction a killed run left half done (see the module comment). A path in the
/// list is followed only to a Parquet file of the same table as its new file, inside `root`.
/// Returns the files removed.
pub fn recover(root: &Path) -> Result<Vec<PathBuf>, WarehouseError> {
    let Some(text) = journal::read_list(root, PENDING)? else { return Ok(Vec::new()) };
    let inside = |relative: &str| {
        let p = Path::new(relative);
        let ok = p.components().all(|c| matches!(c, std::path::Component::Normal(_)))
            && p.extension().is_some_and(|e| e == "parquet");
        ok.then(|| root.join(p))
    };
    let mut removed = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let Some(part) = fields.next().and_then(inside) else { continue };
        if !part.exists() {
            continue; // never renamed into place: its inputs stand
        }
        for input in fields.filter_map(inside) {
            // A month's new file replaces files of its folder or of its days' folders.
            let table = |p: &Path| p.parent().and_then(Path::parent).map(Path::to_path_buf);
            if table(&input) == table(&part) && input != part && input.exists() {
                std::fs::remove_file(&input).map_err(io(&input))?;
                removed.push(input);
            }
        }
    }
    journal::remove_list(root, PENDING)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::dated::{self, DAY_FOLDER, REPORT_DATE};
    use arrow::array::{ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;

    #[test]
    fn recovery_removes_only_the_old_files_of_part_files_in_place_in_their_own_table() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let x = root.join("t/report_month=2022-05");
        let day = root.join("t/report_date=2022-05-11");
        let y = root.join("u/report_month=2022-05");
        for d in [&x, &day, &y] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in [
            x.join("a.parquet"),
            x.join("b.parquet"),
            x.join("part-1.parquet"),
            day.join("c.parquet"),
            y.join("e.parquet"),
        ] {
            std::fs::write(f, b"x").unwrap();
        }
        std::fs::write(root.join("outside.parquet"), b"x").unwrap();
        let list = "t/report_month=2022-05/part-1.parquet\tt/report_month=2022-05/a.parquet\t../outside.parquet\t\
                    outside.parquet\tu/report_month=2022-05/e.parquet\tt/report_date=2022-05-11/c.parquet\t\
                    t/report_month=2022-05/part-1.parquet\n\
                    u/report_month=2022-05/part-2.parquet\tu/report_month=2022-05/e.parquet\n";
        std::fs::write(root.join(PENDING), list).unwrap();
        assert_eq!(recover(root).unwrap(), [x.join("a.parquet"), day.join("c.parquet")]);
        // A part file not in place (never renamed) leaves its inputs; nothing outside its table goes.
        for kept in [x.join("b.parquet"), x.join("part-1.parquet"), y.join("e.parquet"), root.join("outside.parquet")] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert!(!root.join(PENDING).exists());
        assert_eq!(recover(root).unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn day_folders_whose_files_disagree_on_a_type_still_move_into_their_year_file_by_file() {
        use arrow::array::Int64Array;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |day: &str, name: &str, column: ArrayRef| {
            let batch = RecordBatch::try_from_iter([("x", column)]).unwrap();
            let path = root.join("t").join(format!("{DAY_FOLDER}{day}")).join(name);
            parquet_io::write(&path, batch.schema(), &batch).unwrap();
        };
        write("2022-05-10", "aaaa.parquet", Arc::new(Int64Array::from(vec![1, 2])));
        write("2022-05-11", "bbbb.parquet", Arc::new(StringArray::from(vec!["1"])));
        let month = root.join("t/report_year=2022");
        assert_eq!(partitions(root, "t"), [month.clone()]);
        let done = compact(root, std::slice::from_ref(&month), true, &|_| None).unwrap();
        assert_eq!(done.conflicts.len(), 1, "{done:?}");
        assert_eq!((done.files_in, done.files_out), (2, 2));
        assert!(!has_legacy_folders(root, "t"), "the day folders are gone");
        for (name, day, rows) in
            [("2022-05-10-aaaa.parquet", "2022-05-10", 2), ("2022-05-11-bbbb.parquet", "2022-05-11", 1)]
        {
            let batches = parquet_io::read(&month.join(name), &[]).unwrap();
            let dates: Vec<_> = batches.iter().flat_map(dated::row_dates).map(|d| d.unwrap().to_string()).collect();
            assert_eq!(dates, vec![day.to_string(); rows], "{name}");
        }
        // Nothing left to do, and the files stay apart.
        assert_eq!(compact(root, &[month], true, &|_| None).unwrap().files_out, 0);
    }

    #[test]
    fn a_month_closes_into_its_years_part_and_a_late_file_joins_it_too() {
        use arrow::array::{Date32Array, Int64Array};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let year = root.join("t/report_year=2022");
        // Days since 1970: 2022-04-30 is 19112.
        let write = |date: &str, day: i32, x: i64| {
            let batch = RecordBatch::try_from_iter([
                ("x", Arc::new(Int64Array::from(vec![x])) as ArrayRef),
                (REPORT_DATE, Arc::new(Date32Array::from(vec![day])) as ArrayRef),
            ])
            .unwrap();
            parquet_io::write(&year.join(format!("{date}-{x:016x}.parquet")), batch.schema(), &batch).unwrap();
        };
        let tiers = || {
            let mut kinds: Vec<Kind> = finished(&year).iter().map(|(p, _)| tiers::kind_of(p)).collect();
            kinds.sort_by_key(|k| format!("{k:?}"));
            kinds
        };
        write("2022-04-29", 19111, 1);
        write("2022-04-30", 19112, 2);
        compact(root, std::slice::from_ref(&year), false, &|_| None).unwrap();
        assert_eq!(tiers(), [Kind::Open("2022-04".into())]);
        // May's first file: April closes into the year's part.
        write("2022-05-01", 19113, 3);
        let done = compact(root, std::slice::from_ref(&year), false, &|_| None).unwrap();
        assert_eq!((done.files_in, done.files_out), (2, 2), "{done:?}");
        assert_eq!(tiers(), [Kind::Open("2022-05".into()), Kind::Year]);
        let year_part = finished(&year).into_iter().find(|(p, _)| tiers::kind_of(p) == Kind::Year).unwrap().0;
        let d = |n: i64| chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(n);
        assert_eq!(tiers::date_range(&year_part), Some((d(19111), d(19112))));
        // A day of May leaves the year's part alone; a late file of April rewrites it.
        write("2022-05-02", 19114, 4);
        compact(root, std::slice::from_ref(&year), false, &|_| None).unwrap();
        assert!(year_part.exists(), "the year's part is not rewritten for a day of the open month");
        write("2022-04-28", 19110, 5);
        compact(root, std::slice::from_ref(&year), false, &|_| None).unwrap();
        assert!(!year_part.exists());
        assert_eq!(tiers(), [Kind::Open("2022-05".into()), Kind::Year]);
        let rows = |kind: Kind| {
            let (path, _) = finished(&year).into_iter().find(|(p, _)| tiers::kind_of(p) == kind).unwrap();
            let batches = parquet_io::read(&path, &["x"]).unwrap();
            batches
                .iter()
                .flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(Kind::Year), [5, 1, 2], "by report date");
        assert_eq!(rows(Kind::Open("2022-05".into())), [3, 4]);
        // Nothing left to do, even when told to read the parts.
        assert_eq!(compact(root, std::slice::from_ref(&year), true, &|_| None).unwrap().files_out, 0);
    }
}

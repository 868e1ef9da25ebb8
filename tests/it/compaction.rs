//! Compaction: a warehouse of the earlier layout (one file per source file and day, form tables
//! without `source_sha256`) keeps working, and `wangge compact` turns it into exactly the bytes
//! a fresh ingest writes, once; a compaction killed after its renames is finished by the next
//! reader, with no row read twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::Schema;
use wangge::warehouse::parquet_io;

use crate::common::{query_csv, scratch, text, wangge, wangge_expect};
use crate::daily::DATE;
use crate::warehouse::{ingest, sample_copy};

/// Every file under `dir` and its bytes.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    crate::common::tree(dir)
        .into_iter()
        .filter(|f| dir.join(f).is_file())
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// Rewrites a compacted warehouse as an earlier version wrote it: each month's part file split
/// into a folder per day (`report_date=YYYY-MM-DD/`, the date in the path, not in the rows),
/// one file per source file, named by the first 16 hex digits of its sha256, and the form
/// tables' rows without `source_sha256` (the ledger and rejects always named their file).
fn uncompact(warehouse: &Path) -> usize {
    let mut written = 0;
    for file in files(warehouse).into_keys() {
        let path = warehouse.join(&file);
        let table = file.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let by = if table == "ingest_files" { "sha256" } else { "source_sha256" };
        let batches = parquet_io::read(&path, &[]).unwrap();
        let schema = batches[0].schema();
        let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
        let shas = all.column_by_name(by).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        let dates = arrow::compute::cast(all.column_by_name("report_date").unwrap(), &arrow::datatypes::DataType::Utf8)
            .unwrap();
        let dates = dates.as_any().downcast_ref::<StringArray>().unwrap().clone();
        let key = |i: usize| (dates.value(i).to_string(), shas.value(i).to_string());
        let distinct: std::collections::BTreeSet<(String, String)> = (0..shas.len()).map(key).collect();
        for (date, sha) in distinct {
            let mask: BooleanArray = (0..shas.len()).map(|i| Some(key(i) == (date.clone(), sha.clone()))).collect();
            let rows = arrow::compute::filter_record_batch(&all, &mask).unwrap();
            let dropped = |name: &str| {
                name == "report_date" || (name == "source_sha256" && table != "ingest_files" && table != "rejects")
            };
            let keep: Vec<usize> = (0..schema.fields().len()).filter(|i| !dropped(schema.field(*i).name())).collect();
            let rows = rows.project(&keep).unwrap();
            let old =
                warehouse.join(&table).join(format!("report_date={date}")).join(format!("{}.parquet", &sha[..16]));
            let schema: Arc<Schema> = rows.schema();
            parquet_io::write(&old, schema, &RecordBatch::try_new(rows.schema(), rows.columns().to_vec()).unwrap())
                .unwrap();
            written += 1;
        }
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_dir(path.parent().unwrap());
    }
    written
}

#[test]
fn a_warehouse_of_the_earlier_layout_keeps_working_and_compacts_to_the_bytes_of_a_fresh_ingest() {
    let dir = scratch();
    let ws = sample_copy(&dir.path().join("fresh"));
    ingest(&ws);
    let warehouse = ws.join("warehouse");
    let compacted = files(&warehouse);
    assert!(compacted.keys().all(|f| f.to_string_lossy().contains("/report_year=2022/part-2022-05-")), "years only");
    let count = |ws: &Path| query_csv(ws, "SELECT count(*) AS n, count(DISTINCT source_file) AS f FROM visits");
    let counted = count(&ws);
    let old = uncompact(&warehouse);
    assert!(old > 400, "the earlier layout: {old} files");
    let same_as_fresh = |ws: &Path| {
        let after = files(&ws.join("warehouse"));
        assert_eq!(after.keys().collect::<Vec<_>>(), compacted.keys().collect::<Vec<_>>(), "the same files");
        for (name, bytes) in &compacted {
            assert!(after[name] == *bytes, "{}: not the bytes a fresh ingest wrote", name.display());
        }
    };
    let copy = |name: &str| {
        let to = dir.path().join(name);
        crate::common::copy_dir(&ws, &to);
        to
    };
    let (by_query, by_ingest) = (copy("by-query"), copy("by-ingest"));

    // `wangge compact` moves the day folders into months, once.
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "compact"], 0);
    assert!(text(&out.stderr).contains(&format!("{old} file(s)")), "{}", text(&out.stderr));
    same_as_fresh(&ws);
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "compact"], 0);
    assert!(text(&out.stderr).contains("already compacted"), "{}", text(&out.stderr));
    same_as_fresh(&ws);

    // So does the first query or ingest on it: the same rows, and the files already ingested
    // are known as such.
    assert_eq!(count(&by_query), counted);
    same_as_fresh(&by_query);
    let again = ingest(&by_ingest);
    assert!(text(&again.stderr).contains("Skipped 156 file(s) already ingested"), "{}", text(&again.stderr));
    same_as_fresh(&by_ingest);
}

/// The month layout of the version before years (`report_month=YYYY-MM/part-<16 hex>.parquet`)
/// becomes the year layout, with the bytes of a fresh ingest, by `wangge compact` or by the
/// first query.
#[test]
fn a_warehouse_of_month_folders_moves_into_years_with_the_bytes_of_a_fresh_ingest() {
    let dir = scratch();
    let ws = sample_copy(&dir.path().join("fresh"));
    ingest(&ws);
    let warehouse = ws.join("warehouse");
    let fresh = files(&warehouse);
    let count = |ws: &Path| query_csv(ws, "SELECT count(*) AS n, count(DISTINCT source_file) AS f FROM visits");
    let counted = count(&ws);
    for file in fresh.keys() {
        let (table, name) = (file.components().next().unwrap(), file.file_name().unwrap().to_string_lossy());
        let rest = name.strip_prefix("part-2022-05-").unwrap();
        let month = warehouse.join(table).join("report_month=2022-05");
        std::fs::create_dir_all(&month).unwrap();
        std::fs::rename(warehouse.join(file), month.join(format!("part-{rest}"))).unwrap();
        std::fs::remove_dir(warehouse.join(file).parent().unwrap()).unwrap();
    }
    let by_query = dir.path().join("by-query");
    crate::common::copy_dir(&ws, &by_query);
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "compact"], 0);
    assert!(text(&out.stderr).contains(&format!("{} file(s)", fresh.len())), "{}", text(&out.stderr));
    assert!(files(&warehouse) == fresh, "not the files and bytes of a fresh ingest");
    assert_eq!(count(&by_query), counted);
    assert!(files(&by_query.join("warehouse")) == fresh, "the first query moves them too");
}

#[test]
fn a_compaction_killed_after_its_renames_is_finished_by_the_next_reader_and_the_next_ingest() {
    let dir = scratch();
    let reference = sample_copy(&dir.path().join("reference"));
    ingest(&reference);
    let want = files(&reference.join("warehouse"));
    let count = |ws: &Path| {
        query_csv(ws, "SELECT (SELECT count(*) FROM returnees) AS returnees, (SELECT count(*) FROM rejects) AS rejects")
    };

    for reader_first in [true, false] {
        let ws = sample_copy(&dir.path().join(format!("killed-{reader_first}")));
        let killed = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["--workspace", ws.to_str().unwrap(), "ingest", "--date", DATE, "--brief"])
            .env("WANGGE_FAILPOINT", "warehouse.compact")
            .output()
            .unwrap();
        assert_eq!(killed.status.code(), None, "killed at the failpoint: {}", text(&killed.stderr));
        let warehouse = ws.join("warehouse");
        assert!(warehouse.join("_compact_pending").exists(), "the list of a compaction in progress");
        // The part files are in place and the files they replace not yet removed.
        let parts = files(&warehouse).into_keys().filter(|f| f.to_string_lossy().contains("/part-")).count();
        assert!(parts >= 10 && files(&warehouse).len() > parts + 100, "{parts} part files");
        if reader_first {
            // A query finishes the removals before it reads: no row twice.
            assert_eq!(count(&ws), count(&reference));
        }
        let out = wangge(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", DATE, "--brief"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!warehouse.join("_compact_pending").exists());
        let got = files(&warehouse);
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
        assert!(got == want, "the warehouse differs from an ingest that was not killed");
    }
}

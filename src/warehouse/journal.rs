//! The ledger files of a batch are one commit: a run killed half-way through writing them must
//! not leave some of the batch's files marked as ingested and the rest not. The next run would
//! then re-read only the rest, and whatever is made per community and day from all of a day's
//! files (its 退回修改 workbook) would be remade from part of them. So, before the first ledger
//! file, the batch lists them all in `_ledger_pending` (synced); once they are all synced, the
//! list goes. A list found at the start of a run is a batch that never finished: its ledger files
//! are removed, `reconcile` then removes their data files as orphans, and the batch is ingested
//! again whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{LEDGER, WarehouseError};

const PENDING: &str = "_ledger_pending";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io { path: path.to_path_buf(), source }
}

/// Records the ledger files about to be written (paths under `root`), durably.
pub fn begin(root: &Path, ledger_files: &[PathBuf]) -> Result<(), WarehouseError> {
    let mut text = String::new();
    for file in ledger_files {
        if let Ok(relative) = file.strip_prefix(root) {
            text.push_str(&relative.to_string_lossy());
            text.push('\n');
        }
    }
    write_list(root, PENDING, &text)
}

/// The batch's ledger files are all on disk: the list goes.
pub fn finish(root: &Path) -> Result<(), WarehouseError> {
    remove_list(root, PENDING)
}

/// Writes the list `name` in `root`, durably (the file and its folder entry). Also the list of
/// a compaction in progress (`compact`).
pub(super) fn write_list(root: &Path, name: &str, text: &str) -> Result<(), WarehouseError> {
    let path = root.join(name);
    std::fs::create_dir_all(root).map_err(io(root))?;
    let mut file = std::fs::File::create(&path).map_err(io(&path))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io(&path))?;
    std::fs::File::open(root).and_then(|d| d.sync_all()).map_err(io(root))
}

/// The list `name` in `root`, if a run left one.
pub(super) fn read_list(root: &Path, name: &str) -> Result<Option<String>, WarehouseError> {
    let path = root.join(name);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

pub(super) fn remove_list(root: &Path, name: &str) -> Result<(), WarehouseError> {
    let path = root.join(name);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
        _ => Ok(()),
    }
}

/// Undoes a batch a killed run left half-committed: removes the ledger files its list names
/// (only files of the ledger's own folder: the list is ours, but a path is never trusted to stay
/// inside the warehouse), then the list. Returns the files removed.
pub fn undo_unfinished(root: &Path) -> Result<Vec<PathBuf>, WarehouseError> {
    let Some(text) = read_list(root, PENDING)? else { return Ok(Vec::new()) };
    let mut removed = Vec::new();
    for line in text.lines() {
        let relative = Path::new(line);
        let inside = relative.components().all(|c| matches!(c, std::path::Component::Normal(_)))
            && relative.starts_with(LEDGER)
            && relative.extension().is_some_and(|e| e == "parquet");
        let file = root.join(relative);
        if inside && file.exists() {
            std::fs::remove_file(&file).map_err(io(&file))?;
            removed.push(file);
        }
    }
    finish(root)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_batch_loses_its_ledger_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let day = root.join(LEDGER).join("report_month=2022-05");
        std::fs::create_dir_all(&day).unwrap();
        let (a, b, other) = (day.join("a.parquet"), day.join("b.parquet"), day.join("c.parquet"));
        for f in [&a, &b, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        let outside = root.join("returnees.parquet");
        std::fs::write(&outside, b"x").unwrap();
        begin(root, &[a.clone(), b.clone()]).unwrap();
        // A hostile line: never followed out of the ledger.
        let mut list = std::fs::read_to_string(root.join(PENDING)).unwrap();
        list.push_str("../returnees.parquet\nreturnees.parquet\n");
        std::fs::write(root.join(PENDING), list).unwrap();
        assert_eq!(undo_unfinished(root).unwrap(), [a.clone(), b.clone()]);
        assert!(!a.exists() && !b.exists() && other.exists() && outside.exists());
        assert!(!root.join(PENDING).exists());
        // A finished batch leaves nothing to undo.
        begin(root, &[other.clone()]).unwrap();
        finish(root).unwrap();
        assert_eq!(undo_unfinished(root).unwrap(), Vec::<PathBuf>::new());
        assert!(other.exists());
    }
}

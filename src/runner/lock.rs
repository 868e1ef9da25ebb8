//! One run at a time per workspace: an OS file lock on `runs/wangge.lock`. The kernel releases
//! it when the process ends however it ends (even `kill -9`), so there is never a stale lock
//! to clean up by hand.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another wangge run holds the workspace lock `{}` ({holder}); it is released when that run ends, even if it is killed",
        path.display()
    )]
    Busy { path: PathBuf, holder: String },
    #[error("cannot take the workspace lock `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held for as long as the run goes on; dropping it releases the lock.
#[derive(Debug)]
pub struct WorkspaceLock {
    _file: File,
}

/// The lock file of a workspace's `runs` folder.
pub fn lock_path(runs: &Path) -> PathBuf {
    runs.join("wangge.lock")
}

/// Takes the workspace lock without waiting; `who` is written into the lock file so that a run
/// refused can say who holds it.
pub fn acquire(runs: &Path, who: &str) -> Result<WorkspaceLock, LockError> {
    let path = lock_path(runs);
    let io = |source| LockError::Io { path: path.clone(), source };
    std::fs::create_dir_all(runs).map_err(io)?;
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            writeln!(file, "pid {}, {who}", std::process::id()).map_err(io)?;
            crate::failpoint::hit("locked");
            Ok(WorkspaceLock { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "holder unknown".to_string() } else { holder.to_string() };
            Err(LockError::Busy { path, holder })
        }
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::acquire(dir.path(), "`wangge daily`").unwrap();
        match super::acquire(dir.path(), "`wangge daily`") {
            Err(super::LockError::Busy { holder, .. }) => assert!(holder.contains("wangge daily"), "{holder}"),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        super::acquire(dir.path(), "`wangge ingest`").unwrap();
    }
}

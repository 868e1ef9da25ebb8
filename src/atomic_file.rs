//! Writing a file so that a reader (or the next run after a crash) sees either the old file or
//! the whole new one, never half of it: the bytes go to a temporary name in the same folder,
//! which is then renamed over the target.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name `path` is written under first (`.name.tmp`, beside it). Leftovers of a
/// killed run are recognised by this shape and removed by the next one.
pub fn temporary_name(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `bytes` to `path` atomically, creating the parent folders. A file that already
/// holds exactly these bytes is left alone: outputs are deterministic, so a re-run rewrites
/// little, and renaming over hundreds of files in one folder is what made it slow (profiled:
/// the kernel's directory lock and inode reuse checks).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64)
        && std::fs::read(path).is_ok_and(|old| old == bytes)
    {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = temporary_name(path);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Removes the temporary files a killed run left under `dir` (recursively); returns them.
pub fn remove_leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return removed };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            removed.extend(remove_leftovers(&path));
        } else if name.starts_with('.') && name.ends_with(".tmp") && std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_whole_files_and_cleans_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.html");
        super::write(&path, b"one").unwrap();
        super::write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        std::fs::write(super::temporary_name(&path), b"half").unwrap();
        assert_eq!(super::remove_leftovers(dir.path()), vec![super::temporary_name(&path)]);
        assert!(path.exists());
    }
}

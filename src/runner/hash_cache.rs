//! The inbox files' sha256, remembered between runs (`runs/inbox-hashes.tsv`), so that a run
//! with nothing new does not read the whole inbox again. Profiled over a year of the sample
//! (19,052 files, 237 MiB, all in the inbox as an office leaves them): hashing them was most of
//! a day's `wangge ingest` with nothing new, 0.9 s against 0.04 s on the 10th day.
//!
//! A hash is reused only while the file's size, modification time and (on Unix) change time
//! and inode are those it was hashed with, as git and rsync decide a file is unchanged; and
//! only when the file was last modified well before the cache was written (git's "racily
//! clean" rule): a file rewritten with the same size within the same tick of a coarse
//! filesystem clock is hashed again. The cache is only ever a shortcut: a missing, unreadable
//! or damaged one means hashing every file, as before.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::digest::sha256_of;

/// A file this much older than the cache can be trusted by its stamp (filesystems keep
/// modification times to 2 s at worst: FAT, some network shares).
const RACY: Duration = Duration::from_secs(2);

/// A cache larger than this is not read (it would be a damaged one: a line is about 150 bytes).
const MAX_BYTES: u64 = 256 << 20;

/// What a file looked like when it was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified_ns: u128,
    changed_ns: u128,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        Stamp::from(&std::fs::metadata(path).ok()?)
    }

    fn from(m: &std::fs::Metadata) -> Option<Stamp> {
        let modified_ns = m.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
        #[cfg(unix)]
        let (changed_ns, inode) = {
            use std::os::unix::fs::MetadataExt;
            let changed = i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec());
            (u128::try_from(changed).unwrap_or(0), m.ino())
        };
        #[cfg(not(unix))]
        let (changed_ns, inode) = (0, 0);
        Some(Stamp { len: m.len(), modified_ns, changed_ns, inode })
    }
}

#[derive(Debug, Default)]
pub struct HashCache {
    file: PathBuf,
    /// By path: looked up once per inbox file. A `BTreeMap` compared a year's 19,052 paths,
    /// which share their folders' names, byte by byte (`memcmp` was 7% of a run with nothing
    /// new, perf).
    known: HashMap<String, (Stamp, String)>,
    /// Files modified before this are trusted by their stamp: the cache file's own modification
    /// time less `RACY`.
    trusted_before: Option<u128>,
    /// The paths asked for by this run, in the order asked (the inbox's, sorted).
    seen: Vec<(String, (Stamp, String))>,
}

impl HashCache {
    /// The cache at `file`, empty if there is none or it cannot be read.
    pub fn load(file: PathBuf) -> HashCache {
        let mut cache = HashCache { file, ..HashCache::default() };
        let Ok(meta) = std::fs::metadata(&cache.file) else { return cache };
        if meta.len() > MAX_BYTES {
            return cache;
        }
        let Ok(text) = std::fs::read_to_string(&cache.file) else { return cache };
        cache.trusted_before = meta
            .modified()
            .ok()
            .and_then(|t| t.checked_sub(RACY))
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        for line in text.lines() {
            if let Some((path, entry)) = parse(line) {
                cache.known.insert(path, entry);
            }
        }
        cache
    }

    /// The sha256 of the file at `path`, remembered under `key` (the path within the inbox, the
    /// same whatever folder the run was started from): remembered if its stamp is unchanged and
    /// old enough, read otherwise, `None` if it cannot be read; and the file's size from the same
    /// look at it (0 if it cannot be read). `listed` is the file's metadata from its folder's
    /// listing, if the caller has it; otherwise the file is looked at by its path.
    pub fn hashed(&mut self, path: &Path, key: &str, listed: Option<&std::fs::Metadata>) -> (Option<String>, u64) {
        let Some(stamp) = listed.and_then(Stamp::from).or_else(|| Stamp::of(path)) else {
            return (sha256_of(path), std::fs::metadata(path).map_or(0, |m| m.len()));
        };
        (self.remembered_or_read(path, key, stamp), stamp.len)
    }

    fn remembered_or_read(&mut self, path: &Path, key: &str, stamp: Stamp) -> Option<String> {
        let key = key.to_string();
        let trusted = self.trusted_before.is_some_and(|t| stamp.modified_ns < t);
        let known = self.known.get(&key).filter(|(s, _)| trusted && *s == stamp).map(|(_, sha)| sha.clone());
        let sha = match known {
            Some(sha) => sha,
            None => sha256_of(path)?,
        };
        // A path with a tab or a line break would break the file's lines; it is hashed each time.
        if !key.contains(['\t', '\n', '\r']) {
            self.seen.push((key, (stamp, sha.clone())));
        }
        Some(sha)
    }

    /// Writes the cache back: this run's files, and when `complete` is false (the run was given
    /// some folders, not the whole inbox) the others it knew too; a run over the whole inbox
    /// forgets the files gone from it.
    pub fn save(self, complete: bool) -> std::io::Result<()> {
        let mut text = String::with_capacity(self.seen.len() * 160);
        let mut line = |path: &str, (s, sha): &(Stamp, String)| {
            let _ = writeln!(text, "{sha}\t{}\t{}\t{}\t{}\t{path}", s.len, s.modified_ns, s.changed_ns, s.inode);
        };
        // A path asked for twice is written twice; `load` keeps the later line, as it should.
        for (path, entry) in &self.seen {
            line(path, entry);
        }
        if !complete {
            let seen: HashSet<&str> = self.seen.iter().map(|(path, _)| path.as_str()).collect();
            let mut others: Vec<(&String, &(Stamp, String))> =
                self.known.iter().filter(|(path, _)| !seen.contains(path.as_str())).collect();
            others.sort_by(|a, b| a.0.cmp(b.0));
            for (path, entry) in others {
                line(path, entry);
            }
        }
        if let Some(parent) = self.file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Always rewritten, never left as it is when unchanged: its modification time is the
        // moment its stamps were taken, which `trusted_before` relies on.
        let tmp = crate::atomic_file::temporary_name(&self.file);
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(text.as_bytes())?;
        drop(out);
        std::fs::rename(&tmp, &self.file)
    }
}

fn parse(line: &str) -> Option<(String, (Stamp, String))> {
    let mut parts = line.splitn(6, '\t');
    let sha = parts.next()?;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let len = parts.next()?.parse().ok()?;
    let modified_ns = parts.next()?.parse().ok()?;
    let changed_ns = parts.next()?.parse().ok()?;
    let inode = parts.next()?.parse().ok()?;
    let path = parts.next().filter(|p| !p.is_empty())?;
    Some((path.to_string(), (Stamp { len, modified_ns, changed_ns, inode }, sha.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    /// Sets a file's modification time into the past, as a file that has sat in the inbox does.
    fn age(path: &Path, by: Duration) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn a_remembered_hash_is_used_only_for_an_unchanged_file_older_than_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, cache_file) = (dir.path().join("a.csv"), dir.path().join("b.csv"), dir.path().join("runs/h.tsv"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "two").unwrap();
        age(&a, Duration::from_secs(60));
        age(&b, Duration::from_secs(60));
        let mut cache = HashCache::load(cache_file.clone());
        let (sha_a, sha_b) = (cache.hashed(&a, "a.csv", None).0.unwrap(), cache.hashed(&b, "b.csv", None).0.unwrap());
        assert_eq!(sha_a, sha256_of(&a).unwrap());
        cache.save(true).unwrap();

        // A remembered hash is what the next run uses (shown by planting a wrong one for b).
        let text = std::fs::read_to_string(&cache_file).unwrap().replace(&sha_b, &"0".repeat(64));
        std::fs::write(&cache_file, text).unwrap();
        let mut cache = HashCache::load(cache_file.clone());
        assert_eq!(cache.hashed(&b, "b.csv", None).0.unwrap(), "0".repeat(64));
        // The same when the stamp comes from the inbox's listing instead of a look by path.
        let listed = crate::runner::list_files(dir.path()).unwrap().into_iter().find(|l| l.path == b).unwrap();
        assert!(listed.metadata.is_some(), "a plain file's metadata comes with its listing");
        assert_eq!(cache.hashed(&b, "b.csv", listed.metadata.as_ref()).0.unwrap(), "0".repeat(64));
        // ...but not once the file changed, even to the same size and modification time.
        let modified = std::fs::metadata(&b).unwrap().modified().unwrap();
        std::fs::write(&b, "TWO").unwrap();
        std::fs::File::options().write(true).open(&b).unwrap().set_modified(modified).unwrap();
        let mut cache = HashCache::load(cache_file.clone());
        #[cfg(unix)]
        assert_eq!(cache.hashed(&b, "b.csv", None).0.unwrap(), sha256_of(&b).unwrap(), "a new change time is a change");
        #[cfg(unix)]
        {
            let listed = crate::runner::list_files(dir.path()).unwrap().into_iter().find(|l| l.path == b).unwrap();
            assert_eq!(cache.hashed(&b, "b.csv", listed.metadata.as_ref()).0.unwrap(), sha256_of(&b).unwrap());
        }
        assert_eq!(cache.hashed(&a, "a.csv", None).0.unwrap(), sha_a);

        // A file modified just before the cache was written is hashed again (racily clean).
        std::fs::write(&a, "ONE").unwrap();
        let mut cache = HashCache::load(cache_file.clone());
        cache.hashed(&a, "a.csv", None).0.unwrap();
        cache.save(true).unwrap();
        let text = std::fs::read_to_string(&cache_file).unwrap().replace(&sha256_of(&a).unwrap(), &"0".repeat(64));
        std::fs::write(&cache_file, text).unwrap();
        let mut cache = HashCache::load(cache_file.clone());
        assert_eq!(cache.hashed(&a, "a.csv", None).0.unwrap(), sha256_of(&a).unwrap());
    }

    #[test]
    fn a_damaged_cache_is_read_as_far_as_it_makes_sense_and_a_partial_run_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, cache_file) = (dir.path().join("a.csv"), dir.path().join("b.csv"), dir.path().join("h.tsv"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "two").unwrap();
        let mut cache = HashCache::load(cache_file.clone());
        cache.hashed(&a, "a.csv", None).0.unwrap();
        cache.hashed(&b, "b.csv", None).0.unwrap();
        cache.save(true).unwrap();
        // A run given only `a` keeps `b`'s entry; a whole-inbox run without `b` drops it.
        let mut cache = HashCache::load(cache_file.clone());
        cache.hashed(&a, "a.csv", None).0.unwrap();
        cache.save(false).unwrap();
        assert_eq!(std::fs::read_to_string(&cache_file).unwrap().lines().count(), 2);
        let mut cache = HashCache::load(cache_file.clone());
        cache.hashed(&a, "a.csv", None).0.unwrap();
        cache.save(true).unwrap();
        assert_eq!(std::fs::read_to_string(&cache_file).unwrap().lines().count(), 1);
        // Garbage lines are skipped, never trusted.
        let good = std::fs::read_to_string(&cache_file).unwrap();
        std::fs::write(&cache_file, format!("x\t1\n{}\t-1\t2\t3\t4\tb.csv\n\u{0}\u{ff}\n{good}", "f".repeat(64)))
            .unwrap();
        let cache = HashCache::load(cache_file.clone());
        assert_eq!(cache.known.len(), 1);
        // A missing file has no hash.
        let mut cache = HashCache::load(cache_file);
        assert_eq!(cache.hashed(&dir.path().join("gone.csv"), "gone.csv", None), (None, 0));
    }
}

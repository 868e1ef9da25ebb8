//! Hex digests, used by every stage that names or checks something by its content: ingest's
//! file and row keys, compaction's part files, the runner's manifests, delivery's message ids,
//! incremental steps' state.

use std::path::Path;

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// The sha256 of a file's bytes, in hex; `None` if it cannot be read. Read in blocks, so that
/// a workbook of hundreds of MiB (read later as a stream) is not held whole to be hashed.
pub fn sha256_of(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hex(&hasher.finalize()))
}

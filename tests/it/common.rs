//! Helpers shared by the integration tests: the real binary, scratch folders, and one
//! generated sample district reused by every test that only reads it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `wangge` binary with `args`.
pub fn wangge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(args)
        .env_remove("WANGGE_WORKSPACE")
        .env_remove("WANGGE_UPDATE_SNAPSHOTS")
        .output()
        .expect("run wangge")
}

/// Whether the snapshot tests rewrite their snapshots (`WANGGE_UPDATE_SNAPSHOTS=1`, for a
/// developer to review the diff). Never in CI: there a rewritten snapshot would make every
/// snapshot test pass whatever the output, so the variable fails the run instead.
pub fn update_snapshots() -> bool {
    let update = std::env::var_os("WANGGE_UPDATE_SNAPSHOTS").is_some();
    assert!(
        !(update && std::env::var_os("CI").is_some()),
        "WANGGE_UPDATE_SNAPSHOTS is set in CI: snapshots would be rewritten instead of checked"
    );
    update
}

/// Like `wangge`, but panics with stderr unless the exit status is `code`.
pub fn wangge_expect(args: &[&str], code: i32) -> Output {
    let out = wangge(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "wangge {args:?}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch folder that is removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("wangge-it-").tempdir().expect("temp dir")
}

/// The default sample district (`wangge demo-data DIR`), generated once per test run.
pub fn generated_sample() -> &'static Path {
    static SAMPLE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = SAMPLE.get_or_init(|| {
        let dir = scratch();
        let path = dir.path().join("sample");
        wangge_expect(&["demo-data", path.to_str().unwrap()], 0);
        (dir, path)
    });
    path
}

/// Copies every file under `from` (outputs too) to the same place under `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    for f in crate::ingest::files_under(from) {
        let target = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&f, &target).unwrap();
    }
}

/// Every file under `root` (relative paths, sorted), skipping the folders a run writes into.
pub fn tree(root: &Path) -> Vec<PathBuf> {
    const OUTPUTS: &[&str] = &["warehouse", "reports", "outbox", "runs"];
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                if relative.components().count() == 1 && OUTPUTS.contains(&relative.to_str().unwrap()) {
                    continue;
                }
                walk(root, &path, out);
            } else if path.file_name().is_some_and(|n| n != ".gitkeep") {
                out.push(relative);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// truth.json of a sample folder.
pub fn truth(sample: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(sample.join("truth.json")).unwrap()).unwrap()
}

/// One part of a zip package (an xlsx workbook's sheet XML), as text.
pub fn zip_part(path: &Path, name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    std::io::read_to_string(archive.by_name(name).unwrap()).unwrap()
}

/// `wangge query SQL --format csv` on a workspace: the CSV, the command having succeeded.
pub fn query_csv(ws: &Path, sql: &str) -> String {
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "query", sql, "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Where the `<h2>` heading whose text starts with `title` is in a report page (headings carry
/// their style inline: `<h2 style="…">今日要点</h2>`).
pub fn heading_at(page: &str, title: &str) -> Option<usize> {
    page.match_indices("<h2")
        .map(|(i, _)| i)
        .find(|&i| page[i..].find('>').is_some_and(|end| page[i + end + 1..].starts_with(title)))
}

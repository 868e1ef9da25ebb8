//! Shared by the benchmark examples (included with `#[path]`; not an example of its own).

/// This process's peak resident memory (VmHWM), in MiB.
#[allow(dead_code)] // not every example uses it
pub fn peak_rss_mib() -> f64 {
    status_mib("self", "VmHWM:")
}

/// Another process's peak resident memory so far (VmHWM), in MiB; 0 once it is gone.
#[allow(dead_code)] // not every example uses it
pub fn peak_rss_mib_of(pid: u32) -> f64 {
    status_mib(&pid.to_string(), "VmHWM:")
}

/// This process's resident memory now (VmRSS), in MiB.
#[allow(dead_code)] // not every benchmark uses it
pub fn rss_mib() -> f64 {
    status_mib("self", "VmRSS:")
}

/// Runs `cmd` (its output dropped) and reads its resident memory every 2 ms: the largest
/// anonymous part (RssAnon: the data it allocates) and file-backed part (RssFile: mostly the
/// binary's own code as it runs), in MiB. VmHWM counts both, and the second is the same
/// whatever the input.
#[allow(dead_code)] // not every benchmark uses it
pub fn sampled_memory(cmd: &mut std::process::Command) -> (f64, f64) {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("the command starts");
    let process = child.id().to_string();
    let (mut anon, mut file) = (0.0f64, 0.0f64);
    while child.try_wait().expect("waiting for it").is_none() {
        anon = anon.max(status_mib(&process, "RssAnon:"));
        file = file.max(status_mib(&process, "RssFile:"));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    (anon, file)
}

fn status_mib(process: &str, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Replaces the section headed `heading` (`## …`) of BENCHMARKS.md with `section`, in place,
/// keeping the others (a new section goes last), so each benchmark rewrites only its figures.
pub fn write_section(heading: &str, section: &str) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let (before, after) = match existing.find(heading) {
        Some(at) => {
            let rest = &existing[at + 1..];
            (
                existing[..at].to_string(),
                rest.find("\n## ").map(|e| existing[at + 1 + e + 1..].to_string()).unwrap_or_default(),
            )
        }
        None => (existing.clone(), String::new()),
    };
    let after = if after.is_empty() { String::new() } else { format!("\n{after}") };
    std::fs::write(&path, format!("{}\n\n{section}{after}", before.trim_end())).unwrap();
}

/// The `wangge` binary of the build this example belongs to: beside the `examples` folder the
/// example runs from, so that a `CARGO_TARGET_DIR` outside the clone is honoured (`cargo build`
/// first builds it).
#[allow(dead_code)] // not every benchmark runs the binary
pub fn wangge_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the example's own path");
    let bin = exe.parent().and_then(|examples| examples.parent()).expect("target/<profile>/examples").join("wangge");
    assert!(bin.exists(), "{} not found: run `cargo build` first", bin.display());
    bin
}

/// Runs `cmd` under GNU time; returns (seconds, peak MiB) and fails on exit status above 1 (1 is
/// a day with a community missing or a failed check, which the sample has on purpose).
#[allow(dead_code)] // not every benchmark runs the binary
pub fn timed(cmd: &mut std::process::Command) -> (f64, f64) {
    let mut timed = std::process::Command::new("/usr/bin/time");
    timed.arg("-f").arg("wangge-time %e %M").arg(cmd.get_program()).args(cmd.get_args());
    let out = timed.output().expect("GNU time (/usr/bin/time)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{cmd:?}: {stderr}");
    let line = stderr.lines().rev().find(|l| l.starts_with("wangge-time ")).expect("time's line");
    let v: Vec<f64> = line.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
    (v[0], v[1] / 1024.0)
}

/// Every file under `dir`, at any depth, in path order.
#[allow(dead_code)] // not every benchmark uses it
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

/// Gives a workspace made earlier (a benchmark keeps its generated data between runs) this
/// build's pipelines and report templates: the generated copy is those of the build that made
/// it, and a benchmark measures the SQL it is built with (one year's run timed last release's
/// SQL, whose windows the engine could not prune).
#[allow(dead_code)] // not every benchmark keeps its data
pub fn with_current_pipelines(ws: &std::path::Path) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["pipelines", "report-templates"] {
        let _ = std::fs::remove_dir_all(ws.join(folder));
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(repo.join(folder))
            .arg(ws.join(folder))
            .status()
            .expect("cp");
        assert!(status.success(), "copying {folder} into {}", ws.display());
    }
}

//! `wangge init` and strict configuration loading, through the real binary.

use crate::common::{scratch, text, wangge_expect};

#[test]
fn init_makes_a_workspace_that_validate_accepts_with_a_private_key() {
    let dir = scratch();
    let ws = dir.path().join("district");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    for folder in ["inbox", "warehouse", "reports", "outbox", "runs", "pipelines/forms", "report-templates"] {
        assert!(ws.join(folder).is_dir(), "{folder} missing");
    }
    assert!(ws.join("pipelines/forms/returnees.toml").is_file(), "bundled forms are copied");
    let key = std::fs::read_to_string(ws.join("secrets/pseudonym.key")).unwrap();
    assert_eq!(key.trim().len(), 64, "32 random bytes in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.join("secrets/pseudonym.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file must not be readable by others, mode {mode:o}");
    }
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "validate", "--deny-warnings"], 0);
    assert!(text(&out.stderr).contains("no problems"), "{}", text(&out.stderr));

    // Two workspaces get different keys; a second init of the same folder is refused.
    let other = dir.path().join("other");
    wangge_expect(&["init", other.to_str().unwrap()], 0);
    assert_ne!(key, std::fs::read_to_string(other.join("secrets/pseudonym.key")).unwrap());
    let out = wangge_expect(&["init", ws.to_str().unwrap()], 2);
    assert!(text(&out.stderr).contains("already holds a workspace"));
}

#[test]
fn workspace_is_taken_from_the_environment_too() {
    let dir = scratch();
    let ws = dir.path().join("w");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .arg("validate")
        .env("WANGGE_WORKSPACE", &ws)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // And without it the current folder is used: here it is not a workspace.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .arg("validate")
        .env_remove("WANGGE_WORKSPACE")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a wangge workspace"), "{}", text(&out.stderr));
}

#[test]
fn unknown_keys_and_bad_values_are_all_reported_with_file_and_line() {
    let dir = scratch();
    let ws = dir.path().join("w");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let config = ws.join("wangge.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    let broken = original
        .replace("short_name = ", "colour = \"red\"\nshort_name = ")
        .replace("store_raw_ids = false", "store_raw_ids = \"no\"")
        .replace("mode = \"eml\"", "mode = \"pigeon\"")
        .replace("code = \"130273\"", "code = \"13027\"");
    std::fs::write(&config, &broken).unwrap();
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "validate"], 2);
    let stderr = text(&out.stderr);
    let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (needle, message) in [
        ("colour", "unknown field `colour`"),
        ("store_raw_ids", "invalid type"),
        ("pigeon", "unknown variant `pigeon`"),
    ] {
        let want = format!("wangge.toml:{}:", line_of(needle));
        let line =
            stderr.lines().find(|l| l.contains(message)).unwrap_or_else(|| panic!("no `{message}` in:\n{stderr}"));
        assert!(line.contains(&want), "`{line}` should point at {want}");
    }
    // uv-style: the valid choices are listed.
    assert!(stderr.contains("`eml`") && stderr.contains("`smtp`"), "{stderr}");

    // With the unknown keys fixed, the semantic check of the district code reports its line,
    // and the other semantic checks report at the same time.
    let bad_code = original
        .replace("code = \"130273\"", "code = \"13027\"")
        .replace("stream_from_mib = 16", "stream_from_mib = -1");
    std::fs::write(&config, &bad_code).unwrap();
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "validate"], 2);
    let stderr = text(&out.stderr);
    let line = bad_code.lines().position(|l| l.contains("\"13027\"")).unwrap() + 1;
    assert!(
        stderr.contains("6-digit statistical code") && stderr.contains(&format!("wangge.toml:{line}:")),
        "{stderr}"
    );
    assert!(stderr.contains("`ingest.stream_from_mib` is a size in MiB, 0 or more"), "{stderr}");
}

#[test]
fn broken_form_declarations_are_reported_all_at_once() {
    let dir = scratch();
    let ws = dir.path().join("w");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let forms = ws.join("pipelines/forms");
    let returnees = std::fs::read_to_string(forms.join("returnees.toml")).unwrap();
    std::fs::write(forms.join("returnees.toml"), returnees.replace("enum = \"measure\"", "enum = \"measures\""))
        .unwrap();
    let visits = std::fs::read_to_string(forms.join("visits.toml")).unwrap();
    std::fs::write(
        forms.join("visits.toml"),
        visits.replace("required = true, synonyms = [\"走访日期\"", "requried = true, synonyms = [\"走访日期\""),
    )
    .unwrap();
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "validate"], 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("returnees.toml")
            && stderr.contains("enum `measures`, which is not declared; declared: `measure`"),
        "{stderr}"
    );
    assert!(stderr.contains("visits.toml") && stderr.contains("unknown field `requried`"), "{stderr}");
}

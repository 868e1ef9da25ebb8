//! `wangge daily` unattended: on the sample as the README runs it (.eml files in the outbox),
//! with a late file (更正 only to those whose reports changed), against a second concurrent
//! run, and killed with SIGKILL at several points.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::common::{scratch, text, wangge};
use crate::daily::{
    DATE, SmtpServer, bytes_under, check_scopes, daily, eml_summaries, expect, manifest, recipients, table_counts,
    use_smtp,
};
use crate::warehouse::sample_copy;

#[test]
fn daily_on_the_sample_writes_eml_per_recipient_and_a_late_file_sends_corrections_only_where_reports_changed() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    // Hold back one community's returnee workbook of the day, as if it came in late.
    let late = bytes_under(&ws.join("inbox").join(DATE))
        .into_keys()
        .find(|p| p.to_string_lossy().contains("来返登记"))
        .expect("a returnee workbook of the day");
    let held = dir.path().join("held");
    std::fs::copy(ws.join("inbox").join(DATE).join(&late), &held).unwrap();
    std::fs::remove_file(ws.join("inbox").join(DATE).join(&late)).unwrap();

    let first = daily(&ws, &[]);
    expect(&first, 1); // 应报未报: a data problem, and every message says so
    assert!(text(&first.stderr).contains("written as .eml"), "{}", text(&first.stderr));
    let outbox = ws.join("outbox").join(DATE);
    let before = eml_summaries(&outbox);
    let messages: Vec<Value> = before.values().cloned().collect();
    let got = check_scopes(&ws, &messages);
    assert_eq!(got.len(), recipients(&ws).len());
    assert!(messages.iter().all(|m| m["subject"].as_str().unwrap().ends_with("（数据不全）")));
    let district = messages.iter().find(|m| m["html"].is_string()).unwrap();
    assert!(district["html"].as_str().unwrap().contains("应报未报"), "the notice is in the body");
    let reports_before = bytes_under(&ws.join("reports").join(DATE));

    // Re-run with the same inputs: nothing new.
    expect(&daily(&ws, &[]), 1);
    assert_eq!(eml_summaries(&outbox).len(), before.len());

    // The late file arrives.
    std::fs::copy(&held, ws.join("inbox").join(DATE).join(&late)).unwrap();
    let third = daily(&ws, &[]);
    let after = eml_summaries(&outbox);
    let new: Vec<&Value> = after.iter().filter(|(p, _)| !before.contains_key(*p)).map(|(_, v)| v).collect();
    let reports_after = bytes_under(&ws.join("reports").join(DATE));
    let changed: BTreeSet<String> = reports_after
        .iter()
        .filter(|(p, b)| reports_before.get(*p) != Some(*b))
        .filter_map(|(p, _)| p.to_str().and_then(|s| s.strip_suffix(".xlsx")).map(str::to_string))
        .collect();
    let who = recipients(&ws);
    let want: BTreeSet<String> = who
        .iter()
        .filter(|(_, (scope, _))| {
            changed.iter().any(|c| {
                if scope == "district" {
                    c.starts_with("district/")
                } else {
                    c.split('/').nth(1).unwrap().starts_with(&format!("{scope}-"))
                }
            })
        })
        .map(|(a, _)| a.clone())
        .collect();
    let corrected: BTreeSet<String> = new.iter().map(|m| m["to"][0].as_str().unwrap().to_string()).collect();
    assert!(want.contains("wgb@gxq.example.cn"), "the district report changed: {changed:?}");
    assert!(want.len() < who.len(), "some recipients' reports did not change: {changed:?}");
    assert_eq!(corrected, want, "更正 goes to exactly those whose reports changed\n{}", text(&third.stderr));
    for m in &new {
        assert!(m["subject"].as_str().unwrap().starts_with("【更正】"), "{}", m["subject"]);
        let original = before.values().find(|b| b["to"] == m["to"]).unwrap();
        assert_eq!(m["in_reply_to"], original["message_id"], "a correction refers to what it corrects");
    }
    check_scopes(&ws, &new.into_iter().cloned().collect::<Vec<_>>());
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    // The first run stops itself (SIGSTOP) right after taking the lock.
    let mut first = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", ws.to_str().unwrap(), "daily", "--date", DATE])
        .env("WANGGE_FAILPOINT", "locked:stop")
        .spawn()
        .unwrap();
    let stat = format!("/proc/{}/stat", first.id());
    let stopped = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::read_to_string(&stat).is_ok_and(|s| s.split_whitespace().nth(2) == Some("T"))
    });
    assert!(stopped, "the first run did not reach the lock");
    let second = daily(&ws, &[]);
    expect(&second, 4);
    let message = text(&second.stderr);
    assert!(message.contains("another wangge run holds the workspace lock"), "{message}");
    assert!(message.contains(&format!("pid {}", first.id())), "names the holder: {message}");
    let ingest = wangge(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", DATE]);
    expect(&ingest, 4);
    // Killed, the first run's lock goes with it: no stale lock.
    first.kill().unwrap();
    first.wait().unwrap();
    expect(&daily(&ws, &[]), 0);
}

/// What an uninterrupted run of the sample produces: rows per table, report bytes, and how
/// many recipients there are.
struct Uninterrupted {
    counts: String,
    reports: BTreeMap<PathBuf, Vec<u8>>,
    recipients: usize,
    /// How long the uninterrupted run took (with an SMTP server, as the killed runs have).
    took: std::time::Duration,
}

impl Uninterrupted {
    fn run(dir: &std::path::Path) -> Uninterrupted {
        let reference = sample_copy(dir);
        let server = SmtpServer::start(&dir.join("reference-mail"), &[]);
        use_smtp(&reference, server.port);
        let clock = std::time::Instant::now();
        expect(&daily(&reference, &[]), 0);
        let took = clock.elapsed();
        Uninterrupted {
            took,
            counts: table_counts(&reference),
            reports: bytes_under(&reference.join("reports")),
            recipients: recipients(&reference).len(),
        }
    }

    /// The state a run after a kill must leave: the same rows and report bytes, no temporary
    /// file anywhere.
    fn assert_reached_by(&self, ws: &std::path::Path, case: &str) {
        assert_eq!(table_counts(ws), self.counts, "{case}: warehouse rows differ from an uninterrupted run");
        let reports = bytes_under(&ws.join("reports"));
        if reports != self.reports {
            // Name the files, so that a kill landing somewhere new says where it hurt.
            let differing: Vec<&PathBuf> = reports
                .keys()
                .chain(self.reports.keys())
                .filter(|p| reports.get(*p) != self.reports.get(*p))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .take(10)
                .collect();
            panic!("{case}: reports differ from an uninterrupted run: {differing:?}");
        }
        let leftovers: Vec<PathBuf> = ["warehouse", "reports", "outbox", "runs"]
            .iter()
            .flat_map(|d| bytes_under(&ws.join(d)).into_keys())
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{case}: half-written files left: {leftovers:?}");
    }
}

#[test]
fn a_run_killed_at_any_point_is_completed_by_the_next_without_duplicates_or_double_sends() {
    let dir = scratch();
    let want = Uninterrupted::run(&dir.path().join("reference"));
    let pairs = want.recipients;
    // `warehouse.ledger@110`: a batch's ledger half written, so that some of a community's
    // files of the day are marked ingested and some not (its 退回修改 workbook is made from all).
    for point in [
        "warehouse.file@7",
        "warehouse.ledger@110",
        "ingested",
        "reports.file@300",
        "delivery.recorded@3",
        "delivery.sending@2",
    ] {
        let case = dir.path().join(point.replace(['@', '.'], "-"));
        let ws = sample_copy(&case);
        let server = SmtpServer::start(&case.join("mail"), &[]);
        use_smtp(&ws, server.port);
        let killed = Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["--workspace", ws.to_str().unwrap(), "daily", "--date", DATE])
            .env("WANGGE_FAILPOINT", point)
            .output()
            .unwrap();
        assert_eq!(killed.status.signal(), Some(9), "{point}: not killed\n{}", text(&killed.stderr));
        let next = daily(&ws, &[]);
        let unconfirmed = point.starts_with("delivery.sending");
        expect(&next, if unconfirmed { 3 } else { 0 });
        want.assert_reached_by(&ws, point);
        let got = check_scopes(&ws, &server.messages());
        assert!(got.values().all(|&n| n == 1), "{point}: a message was sent twice: {got:?}");
        if unconfirmed {
            // Killed after recording the intent and before sending: the next run cannot know
            // whether it arrived, so it does not send it again and says so.
            assert_eq!(got.len(), pairs - 1, "{point}");
            let m = manifest(&ws);
            let open: Vec<&Value> =
                m["deliveries"].as_array().unwrap().iter().filter(|d| d["status"] == "unconfirmed").collect();
            assert_eq!(open.len(), 1, "{point}: {}", m["deliveries"]);
            assert!(text(&next.stderr).contains("--resend-unconfirmed"), "{}", text(&next.stderr));
            expect(
                &wangge(&["--workspace", ws.to_str().unwrap(), "deliver", "--date", DATE, "--resend-unconfirmed"]),
                0,
            );
            let got = check_scopes(&ws, &server.messages());
            assert_eq!(got.len(), pairs, "{point}");
            assert!(got.values().all(|&n| n == 1), "{point}: {got:?}");
        } else {
            assert_eq!(got.len(), pairs, "{point}: every recipient got its report");
        }
    }
}

#[test]
fn a_run_killed_from_outside_at_any_moment_is_completed_by_the_next() {
    // SIGKILL from outside after a delay, wherever the run happens to be (reading, writing
    // Parquet, running SQL, rendering, sending); the failpoint test above covers named points.
    let dir = scratch();
    let want = Uninterrupted::run(&dir.path().join("reference"));
    let pairs = want.recipients;
    // Delays at shares of an uninterrupted run. A run on a loaded machine can be quicker than
    // the reference was: then the delay is halved and the run tried again, until the kill lands
    // mid-run (the test checks that it did; a kill after the end would test nothing).
    for share in [5u32, 30, 55, 80] {
        let mut delay_ms = (want.took.as_millis() as u64 * u64::from(share)) / 100;
        let mut attempt = 0;
        let (ws, server) = loop {
            let case = dir.path().join(format!("share-{share}-attempt-{attempt}"));
            let ws = sample_copy(&case);
            let server = SmtpServer::start(&case.join("mail"), &[]);
            use_smtp(&ws, server.port);
            let mut child = Command::new(env!("CARGO_BIN_EXE_wangge"))
                .args(["--workspace", ws.to_str().unwrap(), "daily", "--date", DATE])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let _ = child.kill(); // SIGKILL
            let status = child.wait().unwrap();
            if status.signal() == Some(9) {
                break (ws, server);
            }
            attempt += 1;
            assert!(
                attempt < 5,
                "{share}%: no kill landed mid-run ({status} after {delay_ms} ms; the reference run took {} ms)",
                want.took.as_millis()
            );
            delay_ms /= 2;
        };
        let next = daily(&ws, &[]);
        let m = manifest(&ws);
        let unconfirmed: Vec<String> = m["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "unconfirmed")
            .map(|d| d["address"].as_str().unwrap().to_string())
            .collect();
        // Only a kill in the middle of a send can leave a message unconfirmed (exit 3).
        expect(&next, if unconfirmed.is_empty() { 0 } else { 3 });
        want.assert_reached_by(&ws, &format!("killed after {delay_ms} ms"));
        let got = check_scopes(&ws, &server.messages());
        assert!(got.values().all(|&n| n == 1), "{delay_ms} ms: a message was sent twice: {got:?}");
        let covered: BTreeSet<String> = got.keys().map(|(a, _)| a.clone()).chain(unconfirmed.iter().cloned()).collect();
        assert_eq!(covered.len(), pairs, "{delay_ms} ms: every recipient was sent to or is listed as unconfirmed");
    }
}

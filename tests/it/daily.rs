//! `wangge daily`, the cron job, against a real SMTP server on loopback (aiosmtpd, started by
//! `py/mail.py`): every recipient gets exactly the reports of its scope, nothing is sent twice,
//! missed recipients are sent on the next run, a late file sends 更正 only to those whose
//! reports changed, a second run is refused while one runs, and a run killed at any point is
//! finished by the next with no duplicate rows, half-written files or double sends.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use sha2::Digest;

use crate::common::{repo, scratch, text, wangge};
use crate::warehouse::sample_copy;

pub const DATE: &str = "2022-05-10";

/// A real SMTP server on 127.0.0.1, stopped when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    pub fn start(dir: &Path, args: &[&str]) -> SmtpServer {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/it/py/mail.py"))
            .arg("serve")
            .arg(dir)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3 tests/it/py/mail.py (needs `pip install aiosmtpd`)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("mail.py printed {line:?}, not a port"));
        SmtpServer { child, port, dir: dir.to_path_buf() }
    }

    /// Every message the server accepted, in order.
    pub fn messages(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(self.dir.join("messages.jsonl")) else { return Vec::new() };
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Points the workspace at an SMTP server on loopback, with quick retries.
pub fn use_smtp(ws: &Path, port: u16) {
    use_smtp_with(ws, port, "security = \"plain\"");
}

/// Like [`use_smtp`], with `settings` (TOML lines) for security and credentials.
fn use_smtp_with(ws: &Path, port: u16, settings: &str) {
    let path = ws.join("wangge.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    if let Some(start) = config.find("\n[delivery.smtp]\n") {
        let end = start + 1 + config[start + 1..].find("\n\n").unwrap() + 2;
        config.replace_range(start + 1..end, "");
    }
    let config = config.replace("mode = \"eml\"", "mode = \"smtp\"").replace(
        "\n[daily]",
        &format!(
            "\n[delivery.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n{settings}\nretries = 2\nbackoff_seconds = 0.05\ntimeout_seconds = 5\n\n[daily]"
        ),
    );
    std::fs::write(&path, config).unwrap();
}

pub fn daily(ws: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--workspace", ws.to_str().unwrap(), "daily", "--date", DATE];
    args.extend_from_slice(extra);
    wangge(&args)
}

pub fn expect(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stderr:\n{}", text(&out.stderr));
}

/// The newest manifest of the day.
pub fn manifest(ws: &Path) -> Value {
    let dir = ws.join("runs").join(DATE);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    serde_json::from_slice(&std::fs::read(names.last().expect("a manifest")).unwrap()).unwrap()
}

/// The recipients of the sample (`recipients.toml`): address → (scope, formats).
pub fn recipients(ws: &Path) -> BTreeMap<String, (String, Vec<String>)> {
    let doc: toml::Table = std::fs::read_to_string(ws.join("recipients.toml")).unwrap().parse().unwrap();
    doc["recipient"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let formats = match r.get("formats") {
                Some(list) => list.as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect(),
                None => vec!["html".to_string(), "xlsx".to_string()], // the default
            };
            (r["address"].as_str().unwrap().to_string(), (r["scope"].as_str().unwrap().to_string(), formats))
        })
        .collect()
}

/// The report file stem a scope's recipient must receive, from the reports folder.
fn report_of(ws: &Path, scope: &str) -> String {
    let day = ws.join("reports").join(DATE);
    let (folders, prefix) = if scope == "district" {
        (vec!["district"], String::new())
    } else {
        (crate::reports::SCOPE_FOLDERS[1..].to_vec(), format!("{scope}-"))
    };
    for folder in folders {
        for e in std::fs::read_dir(day.join(folder)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".xlsx")
                && stem.starts_with(&prefix)
            {
                return format!("{folder}/{stem}");
            }
        }
    }
    panic!("no report for scope {scope}");
}

/// Every file under `dir` and its bytes.
pub fn bytes_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `.eml` files under `dir`, summarised by `py/mail.py`.
pub fn eml_summaries(dir: &Path) -> BTreeMap<PathBuf, Value> {
    let files: Vec<PathBuf> =
        bytes_under(dir).into_keys().filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
    if files.is_empty() {
        return BTreeMap::new();
    }
    let out = Command::new("python3")
        .arg(repo().join("tests/it/py/mail.py"))
        .arg("summarise")
        .args(files.iter().map(|f| dir.join(f)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    files.into_iter().zip(list).collect()
}

/// Rows per warehouse table for the day's data, as analysts would count them.
pub fn table_counts(ws: &Path) -> String {
    let out = wangge(&[
        "--workspace",
        ws.to_str().unwrap(),
        "query",
        "SELECT 'returnees' AS t, count(*) AS n FROM returnees UNION ALL SELECT 'followups', count(*) FROM followups \
         UNION ALL SELECT 'visits', count(*) FROM visits UNION ALL SELECT 'work_orders', count(*) FROM work_orders \
         UNION ALL SELECT 'rejects', count(*) FROM rejects UNION ALL SELECT 'ingest_files', count(*) FROM ingest_files \
         ORDER BY t",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Checks each accepted message against its recipient's scope and formats; returns how many
/// each (address, report) pair received.
pub fn check_scopes(ws: &Path, messages: &[Value]) -> BTreeMap<(String, String), usize> {
    let who = recipients(ws);
    let mut got = BTreeMap::new();
    for m in messages {
        let to = m["to"].as_array().unwrap();
        assert_eq!(to.len(), 1, "one recipient per message: {}", m["subject"]);
        let address = to[0].as_str().unwrap().to_string();
        let (scope, formats) = &who[&address];
        let report = report_of(ws, scope);
        let stem = report.rsplit('/').next().unwrap();
        assert_eq!(
            m["report"].as_str(),
            Some(stem),
            "{address} (scope {scope}) got another unit's report: {}",
            m["subject"]
        );
        let subject = m["subject"].as_str().unwrap();
        assert!(subject.contains("2022年5月10日"), "subject without the date: {subject}");
        let unit = stem.split_once('-').unwrap().1;
        if scope != "district" {
            assert!(subject.contains(unit), "subject {subject} does not name {unit}");
        }
        let attachments: Vec<&str> =
            m["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
        // The content, not only the label the sender sets: the attachment is this unit's own
        // workbook byte for byte, and the body its own page (less the notice put at its top).
        let own = ws.join("reports").join(DATE).join(&report);
        if formats.iter().any(|f| f == "xlsx") {
            assert_eq!(attachments, vec![format!("{stem}.xlsx")], "{address}");
            let bytes = std::fs::read(own.with_extension("xlsx")).unwrap();
            let want = wangge::digest::hex(&sha2::Sha256::digest(&bytes));
            assert_eq!(m["attachments"][0]["sha256"].as_str(), Some(want.as_str()), "{address}: not its own workbook");
        } else {
            assert!(attachments.is_empty(), "{address} takes no workbook");
        }
        assert_eq!(m["html"].is_string(), formats.iter().any(|f| f == "html"), "{address}: HTML body iff html");
        if let Some(body) = m["html"].as_str() {
            let page = std::fs::read_to_string(own.with_extension("html")).unwrap();
            let notice = regex::Regex::new(r#"<div style="border:2px solid #c0392b[^"]*">.*?</div>"#).unwrap();
            let body = notice.replace(&body.replace("\r\n", "\n"), "").into_owned();
            assert!(
                body.trim_end() == page.replace("\r\n", "\n").trim_end(),
                "{address}: the body is not its own report page"
            );
        }
        *got.entry((address, report)).or_insert(0) += 1;
    }
    got
}

#[test]
fn daily_sends_each_recipient_its_scope_once_retries_and_sends_the_missed_next_time() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    // One more recipient, whose mailbox the server refuses: a failing recipient must not stop
    // the others, and the first message meets a transient 451 that must be retried.
    let mut list = std::fs::read_to_string(ws.join("recipients.toml")).unwrap();
    list.push_str("\n[[recipient]]\nname = \"停用邮箱\"\naddress = \"gone@gxq.example.cn\"\nscope = \"130273401\"\n");
    std::fs::write(ws.join("recipients.toml"), list).unwrap();
    let server =
        SmtpServer::start(&dir.path().join("mail1"), &["--fail-first", "1", "--reject", "gone@gxq.example.cn"]);
    use_smtp(&ws, server.port);

    let first = daily(&ws, &[]);
    expect(&first, 3);
    let messages = server.messages();
    let got = check_scopes(&ws, &messages);
    let who = recipients(&ws);
    assert_eq!(got.len(), who.len() - 1, "every recipient but the refused one: {got:?}");
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    // No town leader received another town's report.
    for (address, report) in got.keys() {
        let scope = &who[address].0;
        if scope.len() == 9 {
            assert!(report.starts_with(&format!("town/{scope}-")), "{address} got {report}");
        }
    }
    let m = manifest(&ws);
    assert_eq!(m["verdict"], "output_failure");
    assert_eq!(m["exit_status"], 3);
    let deliveries = m["deliveries"].as_array().unwrap();
    let missed: Vec<&Value> = deliveries.iter().filter(|d| d["status"] == "failed").collect();
    assert_eq!(missed.len(), 1, "{deliveries:?}");
    assert_eq!(missed[0]["address"], "gone@gxq.example.cn");
    assert!(missed[0]["error"].as_str().unwrap().contains("550"), "{}", missed[0]);
    assert!(
        deliveries.iter().any(|d| d["status"] == "sent" && d["attempts"] == 2),
        "the 451 was retried: {deliveries:?}"
    );
    assert!(text(&first.stderr).contains("missed: 停用邮箱 <gone@gxq.example.cn>"), "{}", text(&first.stderr));
    // The manifest names the inputs and hashes the outputs; the log is JSON lines.
    assert!(m["inputs"].as_array().unwrap().len() > 100, "inputs of the day from the ledger");
    assert!(m["outputs"].as_array().unwrap().iter().all(|o| o["sha256"].as_str().unwrap().len() == 64));
    let log = std::fs::read_dir(ws.join("runs").join(DATE))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".log.jsonl"))
        .expect("a JSON log in the run folder");
    let log = std::fs::read_to_string(log.path()).unwrap();
    assert!(log.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()) && log.contains("\"delivery\""), "{log}");

    // A second run sends nothing new to those who have it, and tries the refused one again.
    let warehouse = bytes_under(&ws.join("warehouse"));
    let reports = bytes_under(&ws.join("reports"));
    expect(&daily(&ws, &[]), 3);
    assert_eq!(server.messages().len(), messages.len(), "nothing is sent twice");
    assert!(bytes_under(&ws.join("warehouse")) == warehouse, "the warehouse is byte-identical after a re-run");
    assert!(bytes_under(&ws.join("reports")) == reports, "the reports are byte-identical after a re-run");

    // The mailbox works again (a new server that refuses nothing): the next run sends only
    // the missed message.
    drop(server);
    let server = SmtpServer::start(&dir.path().join("mail2"), &[]);
    use_smtp(&ws, server.port);
    expect(&daily(&ws, &[]), 0);
    let resent = server.messages();
    let subjects: Vec<&Value> = resent.iter().map(|m| &m["subject"]).collect();
    assert_eq!(resent.len(), 1, "{subjects:?}");
    assert_eq!(resent[0]["to"][0], "gone@gxq.example.cn");
    check_scopes(&ws, &resent);
}

#[test]
fn with_the_server_down_every_recipient_is_missed_and_the_next_run_sends_them_once() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    use_smtp(&ws, closed);
    let out = daily(&ws, &[]);
    expect(&out, 3);
    let m = manifest(&ws);
    let deliveries = m["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), recipients(&ws).len());
    assert!(deliveries.iter().all(|d| d["status"] == "failed"), "{deliveries:?}");
    assert!(deliveries[0]["error"].as_str().unwrap().contains("Connection"), "{}", deliveries[0]);
    assert!(deliveries[1]["error"].as_str().unwrap().starts_with("not tried"), "{}", deliveries[1]);
    assert!(text(&out.stderr).contains("missed"), "{}", text(&out.stderr));

    // A dry run writes what would be sent and records nothing.
    expect(&wangge(&["--workspace", ws.to_str().unwrap(), "deliver", "--date", DATE, "--dry-run"]), 0);
    let dry = bytes_under(&ws.join("outbox/dry-run").join(DATE));
    assert_eq!(dry.len(), recipients(&ws).len(), "{:?}", dry.keys().collect::<Vec<_>>());

    let server = SmtpServer::start(&dir.path().join("mail"), &[]);
    use_smtp(&ws, server.port);
    expect(&daily(&ws, &[]), 0);
    let got = check_scopes(&ws, &server.messages());
    assert_eq!(got.len(), recipients(&ws).len());
    assert!(got.values().all(|&n| n == 1));
    expect(&daily(&ws, &[]), 0);
    assert_eq!(server.messages().len(), got.len(), "a third run sends nothing");
}

#[test]
fn starttls_with_a_login_and_tls_reach_a_server_certified_by_the_office_ca() {
    let dir = scratch();
    let certs = dir.path().join("certs");
    let made =
        Command::new("python3").arg(repo().join("tests/it/py/mail.py")).arg("certs").arg(&certs).output().unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let (pem, key, ca) = (certs.join("server.pem"), certs.join("server.key"), certs.join("ca.pem"));
    let (pem, key, ca) = (pem.to_str().unwrap(), key.to_str().unwrap(), ca.to_str().unwrap());
    let ws = sample_copy(dir.path());
    let daily_with_env = |env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["--workspace", ws.to_str().unwrap(), "daily", "--date", DATE])
            .env_remove("WANGGE_WORKSPACE")
            .env_remove("WANGGE_SMTP_PASSWORD")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };

    // STARTTLS, required by the server, with a login whose password comes from the environment.
    let server = SmtpServer::start(&dir.path().join("mail1"), &["--starttls", pem, key, "--auth", "wangge", "s3cret"]);
    use_smtp_with(
        &ws,
        server.port,
        &format!(
            "security = \"starttls\"\nca_file = \"{ca}\"\nusername_env = \"WANGGE_SMTP_USER\"\npassword_env = \"WANGGE_SMTP_PASSWORD\""
        ),
    );
    let missing = daily_with_env(&[("WANGGE_SMTP_USER", "wangge")]);
    expect(&missing, 2);
    assert!(text(&missing.stderr).contains("`WANGGE_SMTP_PASSWORD`"), "{}", text(&missing.stderr));
    assert!(!ws.join("warehouse").exists(), "a configuration error does nothing");
    expect(&daily_with_env(&[("WANGGE_SMTP_USER", "wangge"), ("WANGGE_SMTP_PASSWORD", "s3cret")]), 0);
    let messages = server.messages();
    assert_eq!(check_scopes(&ws, &messages).len(), recipients(&ws).len());
    let sessions: Vec<(&Value, &Value)> = messages.iter().map(|m| (&m["tls"], &m["auth_user"])).collect();
    assert!(messages.iter().all(|m| m["tls"] == true && m["auth_user"] == "wangge"), "{sessions:?}");
    drop(server);

    // TLS from the first byte, to a new server, so `deliver --resend` sends everything again.
    // Without the office's CA the server's certificate is refused and nothing is sent.
    let server = SmtpServer::start(&dir.path().join("mail2"), &["--tls", pem, key]);
    use_smtp_with(&ws, server.port, "security = \"tls\"");
    let out = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", ws.to_str().unwrap(), "deliver", "--date", DATE, "--resend"])
        .output()
        .unwrap();
    expect(&out, 3);
    assert!(text(&out.stderr).to_lowercase().contains("certificate"), "{}", text(&out.stderr));
    assert!(server.messages().is_empty());
    use_smtp_with(&ws, server.port, &format!("security = \"tls\"\nca_file = \"{ca}\""));
    let out = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", ws.to_str().unwrap(), "deliver", "--date", DATE, "--resend"])
        .output()
        .unwrap();
    expect(&out, 0);
    let messages = server.messages();
    assert_eq!(check_scopes(&ws, &messages).len(), recipients(&ws).len());
    assert!(messages.iter().all(|m| m["tls"] == true));
}

#[test]
fn thresholds_make_data_problems_exit_1_with_a_notice_and_a_day_without_submissions_sends_nothing() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    let config = std::fs::read_to_string(ws.join("wangge.toml")).unwrap();
    std::fs::write(ws.join("wangge.toml"), config.replace("max_reject_share = 0.05", "max_reject_share = 0.001"))
        .unwrap();
    let out = daily(&ws, &[]);
    expect(&out, 1);
    let m = manifest(&ws);
    let share = m["reject_share"].as_f64().unwrap();
    assert!(share > 0.001 && share < 0.05, "{share}");
    let problems = m["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p.as_str().unwrap().starts_with("拒收偏多")), "{problems:?}");
    assert!(text(&out.stderr).contains("data problem: 拒收偏多"), "{}", text(&out.stderr));
    assert_eq!(m["deliveries"].as_array().unwrap().len(), recipients(&ws).len(), "still delivered, with the notice");
    // Messages sent later by `deliver` carry the day's notice too (from the run's manifest).
    expect(&wangge(&["--workspace", ws.to_str().unwrap(), "deliver", "--date", DATE, "--dry-run"]), 0);
    let dry = eml_summaries(&ws.join("outbox/dry-run").join(DATE));
    assert_eq!(dry.len(), recipients(&ws).len());
    assert!(dry.values().all(|m| m["subject"].as_str().unwrap().ends_with("（数据不全）")));

    // A date nobody reported on: reports are rendered but nothing is sent.
    let blank = wangge(&["--workspace", ws.to_str().unwrap(), "daily", "--date", "2022-06-01"]);
    expect(&blank, 1);
    assert!(text(&blank.stderr).contains("没有收到2022年6月1日的任何报送材料"), "{}", text(&blank.stderr));
    assert!(!ws.join("outbox/2022-06-01").exists(), "a blank day sends nothing");
}

#[test]
fn a_password_is_never_sent_over_plain_smtp_unless_the_workspace_allows_it() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    let credentials = "username_env = \"WANGGE_SMTP_USER\"\npassword_env = \"WANGGE_SMTP_PASSWORD\"";
    use_smtp_with(&ws, 2525, &format!("security = \"plain\"\n{credentials}"));
    let refused = wangge(&["--workspace", ws.to_str().unwrap(), "validate"]);
    expect(&refused, 2);
    assert!(text(&refused.stderr).contains("allow_plaintext_auth"), "{}", text(&refused.stderr));
    let daily_refused = daily(&ws, &[]);
    expect(&daily_refused, 2);
    use_smtp_with(&ws, 2525, &format!("security = \"plain\"\n{credentials}\nallow_plaintext_auth = true"));
    expect(&wangge(&["--workspace", ws.to_str().unwrap(), "validate"]), 0);
    use_smtp_with(&ws, 2525, &format!("security = \"starttls\"\n{credentials}"));
    expect(&wangge(&["--workspace", ws.to_str().unwrap(), "validate"]), 0);
}

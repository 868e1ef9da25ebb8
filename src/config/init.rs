//! Creating a workspace: `wangge.toml`, the folder layout, the bundled pipelines and report
//! templates, and a pseudonymisation key that only the owner can read.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::workspace::CONFIG_FILE;

/// The files bundled into the binary (`pipelines/` and `report-templates/` of the source
/// tree), so that an installed binary can create workspaces without the sources.
pub static BUNDLED_FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The district a new workspace describes.
#[derive(Debug, Clone)]
pub struct DistrictIdentity {
    pub name: String,
    pub short_name: String,
    pub code: String,
    /// A city's counties and districts (区县): code and name; empty for one district.
    pub counties: Vec<(String, String)>,
}

impl Default for DistrictIdentity {
    /// The district of the founding article; a new office edits `wangge.toml`.
    fn default() -> Self {
        DistrictIdentity {
            name: "唐山高新技术产业开发区".into(),
            short_name: "唐山高新区".into(),
            code: "130273".into(),
            counties: Vec::new(),
        }
    }
}

/// How the pseudonymisation key of a new workspace is made.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// 32 bytes from the operating system's random source: every real workspace.
    Random,
    /// Fixed bytes: only for the synthetic sample district, which must be reproducible.
    Fixed([u8; 32]),
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("`{}` already holds a workspace (`{CONFIG_FILE}` exists); refusing to overwrite it", .0.display())]
    AlreadyExists(PathBuf),
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The folders every workspace has, relative to its root.
pub const FOLDERS: &[&str] = &["inbox", "warehouse", "reports", "outbox", "runs", "secrets"];

/// Creates a workspace in `dir` (which may exist but must not hold a `wangge.toml`).
pub fn init_workspace(dir: &Path, district: &DistrictIdentity, key: KeySource) -> Result<(), InitError> {
    let config_path = dir.join(CONFIG_FILE);
    if config_path.exists() {
        return Err(InitError::AlreadyExists(dir.to_path_buf()));
    }
    for folder in FOLDERS {
        create_dir(&dir.join(folder))?;
    }
    for (relative, bytes) in BUNDLED_FILES {
        write_file(&dir.join(relative), bytes)?;
    }
    let key_bytes = match key {
        KeySource::Fixed(bytes) => bytes,
        KeySource::Random => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| InitError::Random(e.to_string()))?;
            bytes
        }
    };
    write_secret(&dir.join("secrets/pseudonym.key"), (crate::digest::hex(&key_bytes) + "\n").as_bytes())?;
    write_file(&dir.join("recipients.toml"), RECIPIENTS_TEMPLATE.as_bytes())?;
    write_file(&config_path, config_text(district).as_bytes())?;
    Ok(())
}

/// A new workspace's recipient list: empty, with an example to copy.
const RECIPIENTS_TEMPLATE: &str = r#"# Who receives the daily reports (`wangge daily`), one [[recipient]] table each:
#   scope   = "district", or the code of a town (e.g. "130273101"), community, grid or building
#             (a unit of a scope declared in reports.toml): only that unit's reports
#   formats = ["html", "xlsx"]: the HTML report as the message body and/or the workbook attached
# An Excel roster (columns 姓名, 邮箱, 范围, 格式) works too: point `delivery.recipients` at it.
#
# [[recipient]]
# name = "区网格化管理办公室"
# address = "wgb@example.gov.cn"
# scope = "district"
# formats = ["html", "xlsx"]
"#;

fn create_dir(path: &Path) -> Result<(), InitError> {
    fs::create_dir_all(path).map_err(|source| InitError::Io { path: path.to_path_buf(), source })
}

/// Writes a file, creating its parent folders.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    fs::write(path, bytes).map_err(|source| InitError::Io { path: path.to_path_buf(), source })
}

/// Writes a file that only its owner may read (mode 0600 on Unix), created that way rather
/// than restricted afterwards, so the key is never readable by others even for a moment.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), InitError> {
    let io = |source| InitError::Io { path: path.to_path_buf(), source };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)
}

/// The `counties` of a city's `[district]`: each gets its own daily report.
fn counties_text(counties: &[(String, String)]) -> String {
    if counties.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "# The city's counties and districts (区县): each has its own daily report (reports/<date>/county/).\ncounties = [\n",
    );
    for (code, name) in counties {
        out.push_str(&format!("  {{ code = \"{code}\", name = \"{name}\" }},\n"));
    }
    out.push_str("]\n");
    out
}

fn config_text(d: &DistrictIdentity) -> String {
    format!(
        r#"# wangge workspace configuration. Unknown keys are errors; `wangge validate` checks this file.

[district]
name = "{name}"
short_name = "{short}"   # used in report titles
code = "{code}"              # 6-digit statistical code, kept as text
{counties}
[paths]                      # relative to this folder unless absolute
inbox = "inbox"              # drop what the communities send here
warehouse = "warehouse"      # partitioned Parquet, for analysts too
reports = "reports"
outbox = "outbox"            # .eml files when no SMTP server is configured
runs = "runs"                # run manifests and logs
pipelines = "pipelines"
report_templates = "report-templates"

[privacy]
key_file = "secrets/pseudonym.key"   # HMAC key for person_key; keep it private
store_raw_ids = false                # true writes full citizen IDs to the warehouse and reports
store_raw_phones = false             # true writes full phone numbers

[delivery]
mode = "eml"                 # "eml" writes messages to the outbox; "smtp" sends them
from = "wangge@localhost"
recipients = "recipients.toml"
# [delivery.smtp]
# host = "smtp.example.gov.cn"
# port = 587
# security = "starttls"      # plain | starttls | tls
# ca_file = "secrets/office-ca.pem"   # the office network's own CA, if its server uses one
# username_env = "WANGGE_SMTP_USER"
# password_env = "WANGGE_SMTP_PASSWORD"   # or password_file = "secrets/smtp-password" (mode 0600)
# retries = 3                # transient failures are tried again after 2 s, 4 s, 8 s
# backoff_seconds = 2.0

[daily]                      # `wangge daily`: exit status 1 (and a notice in every message) when
pipeline = "daily"
max_missing_submissions = 0  # more communities than this are 应报未报
max_reject_share = 0.05      # more than this share of the day's rows is rejected
fail_on_checks = true        # or any other pipeline check fails

[ingest]
stream_from_mib = 16         # workbooks with a sheet of this much XML or more are read as a stream
max_file_mib = 512           # larger files are refused by name; the others go on
max_inflated_mib = 1024      # a workbook that would inflate to more is refused before inflating
max_cells = 30000000         # most cells one sheet (rows × columns) or shared-string table may have

[engine]                     # what runs the SQL; `--engine` overrides it for one run
kind = "local"               # local | ballista (a scheduler and executors: `wangge ballista`)
scheduler = "127.0.0.1:50050"
connect_timeout_seconds = 20 # a cluster that does not answer a first query by then fails the run
run_timeout_minutes = 60     # a pipeline run or query taking longer fails, naming the engine
memory_mib = 1024            # the local engine's budget: its sorts and groups spill to runs/spill as it fills
split_by_county = true       # with several [district] counties, steps marked split run one county (区县) at a time
"#,
        name = d.name,
        short = d.short_name,
        code = d.code,
        counties = counties_text(&d.counties),
    )
}

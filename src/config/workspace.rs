//! `wangge.toml`: the workspace configuration, loaded strictly.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::strict::{self, ConfigError};

/// The file name of a workspace's configuration.
pub const CONFIG_FILE: &str = "wangge.toml";

/// Everything in `wangge.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// The district this workspace reports on.
    pub district: DistrictConfig,
    /// Where inputs and outputs live, relative to the workspace folder unless absolute.
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub daily: DailyConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub engine: EngineConfig,
}

/// Which engine runs the pipelines' SQL and `wangge query`: this process (`local`), or an
/// Apache Ballista cluster (`ballista`) whose scheduler, executors and this client all see the
/// warehouse at the same absolute path (a shared folder).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub kind: EngineKind,
    /// The Ballista scheduler, `host:port`.
    pub scheduler: String,
    /// How long a Ballista cluster may take to answer a first query (an idle scheduler with no
    /// executor never answers: the run fails with that, not hangs).
    pub connect_timeout_seconds: u64,
    /// Longest a pipeline run or a query may take on any engine; then it fails, naming the
    /// engine, instead of holding cron.
    pub run_timeout_minutes: u64,
    /// Memory the local engine's sorts, joins and aggregations may hold before they spill to
    /// `runs/spill` (a query that cannot spill fails, naming the limit, instead of swapping).
    /// Ballista executors have their own (`wangge ballista executor --memory-mib`).
    pub memory_mib: u64,
    /// Steps marked `split = "county"` run one county at a time on the local engine, in a
    /// workspace that lists several counties under `[district]`, so that a city's step holds
    /// one county's rows (a hash join cannot spill); `false` runs them whole, faster where
    /// memory is plentiful (`sql::scope`).
    pub split_by_county: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[default]
    Local,
    Ballista,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::Local,
            scheduler: "127.0.0.1:50050".into(),
            connect_timeout_seconds: 20,
            run_timeout_minutes: 60,
            memory_mib: 1024,
            split_by_county: true,
        }
    }
}

impl EngineConfig {
    /// Applies `--engine`: `local`, `ballista` (the configured scheduler) or
    /// `ballista://host:port`.
    pub fn choose(&mut self, engine: &str) -> Result<(), String> {
        match engine.split_once("://") {
            _ if engine == "local" => self.kind = EngineKind::Local,
            _ if engine == "ballista" => self.kind = EngineKind::Ballista,
            Some(("ballista" | "df", address)) if !address.is_empty() && !address.contains('/') => {
                self.kind = EngineKind::Ballista;
                self.scheduler = address.to_string();
            }
            _ => return Err(format!("`--engine {engine}`: expected `local`, `ballista` or `ballista://host:port`")),
        }
        Ok(())
    }
}

/// How files are read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Workbooks (.xlsx/.xlsm) with a worksheet of at least this many MiB of XML are read as a
    /// stream of rows, never whole in memory (16 MiB is about 30,000 rows of 16 columns).
    /// Other formats are always read whole.
    pub stream_from_mib: f64,
    /// Largest file read, in MiB; a larger one is refused by name and the others go on.
    pub max_file_mib: u64,
    /// Largest size a workbook package may inflate to, in MiB: a zip bomb is refused before
    /// it is inflated.
    pub max_inflated_mib: u64,
    /// Most cells one sheet may have (rows × columns of its used range), and most shared
    /// strings a workbook may declare.
    pub max_cells: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        let limits = crate::ingest::limits::Limits::default();
        IngestConfig {
            stream_from_mib: crate::ingest::stream::STREAM_FROM_BYTES as f64 / (1 << 20) as f64,
            max_file_mib: limits.max_file_bytes >> 20,
            max_inflated_mib: limits.max_inflated_bytes >> 20,
            max_cells: limits.max_cells,
        }
    }
}

/// The unattended daily job (`wangge daily`): what it runs, and when the data is bad enough
/// that the run must say so (exit status 1 and a notice in every message).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DailyConfig {
    /// The pipeline to run.
    pub pipeline: String,
    /// Communities allowed to be 应报未报 before the run counts as having data problems.
    pub max_missing_submissions: u64,
    /// Share of the day's rows that may be rejected (0.05 = 5%).
    pub max_reject_share: f64,
    /// Whether a failed pipeline check (other than completeness) is a data problem.
    pub fail_on_checks: bool,
}

impl Default for DailyConfig {
    fn default() -> Self {
        DailyConfig {
            pipeline: "daily".into(),
            max_missing_submissions: 0,
            max_reject_share: 0.05,
            fail_on_checks: true,
        }
    }
}

/// The district: its name for report titles and its statistical code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictConfig {
    /// Full name, e.g. 唐山高新技术产业开发区.
    pub name: String,
    /// Short name used in report titles, e.g. 唐山高新区; defaults to `name`.
    pub short_name: Option<String>,
    /// 6-digit NBS/GB 2260 code, e.g. 130273. Kept as text.
    pub code: Spanned<String>,
    /// A city's (or province's) counties and districts (区县) when one workspace holds several:
    /// the names of their reports (the county scope lists the counties its data has; one not
    /// named here is named by its code).
    #[serde(default)]
    pub counties: Vec<CountyConfig>,
}

/// One county or district (区县) of a city's workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountyConfig {
    /// Its 6-digit code, the first six of its towns' (130202).
    pub code: String,
    /// Its name in report titles and file names (路南区).
    pub name: String,
}

impl DistrictConfig {
    /// The counties' names by code.
    pub fn county_names(&self) -> std::collections::BTreeMap<String, String> {
        self.counties.iter().map(|c| (c.code.clone(), c.name.clone())).collect()
    }
}

/// Folder layout of a workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    /// Files as communities send them.
    pub inbox: PathBuf,
    /// Partitioned Parquet tables.
    pub warehouse: PathBuf,
    /// Rendered reports.
    pub reports: PathBuf,
    /// Outgoing mail (`.eml` files when no SMTP server is configured).
    pub outbox: PathBuf,
    /// Run manifests and logs.
    pub runs: PathBuf,
    /// Declared forms and SQL pipelines.
    pub pipelines: PathBuf,
    /// Report templates (tera).
    pub report_templates: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            inbox: "inbox".into(),
            warehouse: "warehouse".into(),
            reports: "reports".into(),
            outbox: "outbox".into(),
            runs: "runs".into(),
            pipelines: "pipelines".into(),
            report_templates: "report-templates".into(),
        }
    }
}

/// What personal data may leave the ingest stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// File holding the workspace's pseudonymisation key (HMAC-SHA256 of IDs).
    pub key_file: PathBuf,
    /// Write full citizen ID numbers to the warehouse and reports. Off by default.
    pub store_raw_ids: bool,
    /// Write full phone numbers to the warehouse and reports. Off by default.
    pub store_raw_phones: bool,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig { key_file: "secrets/pseudonym.key".into(), store_raw_ids: false, store_raw_phones: false }
    }
}

/// How reports reach their readers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// `eml` writes messages to the outbox; `smtp` sends them through `[delivery.smtp]`.
    pub mode: DeliveryMode,
    /// Sender address.
    pub from: String,
    /// Recipient list (TOML or an Excel roster), relative to the workspace.
    pub recipients: PathBuf,
    pub smtp: Option<SmtpConfig>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            mode: DeliveryMode::Eml,
            from: "wangge@localhost".into(),
            recipients: "recipients.toml".into(),
            smtp: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    Eml,
    Smtp,
}

/// An SMTP server. Credentials never live here in clear: only the names of the environment
/// variables or the secret file that hold them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Environment variable holding the user name.
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (not world-readable).
    pub password_file: Option<PathBuf>,
    /// PEM file of the certificate authority that signed the server's certificate (an office
    /// network's own CA), trusted besides the public ones.
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server before an attempt fails.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// How often a transient failure (4xx reply, connection trouble) is tried again.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Pause before the first retry; each further retry waits twice as long.
    #[serde(default = "default_backoff")]
    pub backoff_seconds: f64,
    /// Send the user name and password over a connection without TLS (`security = "plain"`).
    /// Refused unless set: anyone on the network path would read the password.
    #[serde(default)]
    pub allow_plaintext_auth: bool,
}

fn default_timeout() -> f64 {
    30.0
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> f64 {
    2.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Plain,
    Starttls,
    Tls,
}

/// A loaded workspace: its folder and configuration, with paths resolved.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: WorkspaceConfig,
}

impl Workspace {
    /// Loads `wangge.toml` from `root`, reporting every problem at once.
    pub fn load(root: &Path) -> Result<Workspace, Vec<ConfigError>> {
        let file = root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                format!("not a wangge workspace (no `{CONFIG_FILE}`); create one with `wangge init {}`", root.display())
            } else {
                format!("cannot read: {e}")
            };
            vec![ConfigError::whole_file(&file, hint)]
        })?;
        let config: WorkspaceConfig = strict::from_toml(&file, &text)?;
        let mut errors = Vec::new();
        let code = config.district.code.get_ref();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(ConfigError::at(
                &file,
                &text,
                config.district.code.span().start,
                format!("`district.code` must be a 6-digit statistical code such as \"130273\", got \"{code}\""),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for county in &config.district.counties {
            let c = &county.code;
            if c.len() != 6 || !c.bytes().all(|b| b.is_ascii_digit()) || county.name.trim().is_empty() {
                errors.push(ConfigError::whole_file(
                    &file,
                    format!("each of `district.counties` needs a 6-digit `code` and a `name`, got code \"{c}\""),
                ));
            } else if !seen.insert(c) {
                errors.push(ConfigError::whole_file(&file, format!("`district.counties` lists {c} twice")));
            }
        }
        if config.delivery.mode == DeliveryMode::Smtp && config.delivery.smtp.is_none() {
            errors.push(ConfigError::whole_file(&file, "`delivery.mode = \"smtp\"` needs a `[delivery.smtp]` table"));
        }
        let daily = &config.daily;
        if !(0.0..=1.0).contains(&daily.max_reject_share) {
            errors.push(ConfigError::whole_file(
                &file,
                format!(
                    "`daily.max_reject_share` is a share between 0 and 1 (0.05 = 5%), got {}",
                    daily.max_reject_share
                ),
            ));
        }
        if let Some(smtp) = &config.delivery.smtp {
            if !(smtp.timeout_seconds > 0.0 && smtp.backoff_seconds >= 0.0) {
                errors.push(ConfigError::whole_file(
                    &file,
                    "`delivery.smtp.timeout_seconds` must be positive and `backoff_seconds` not negative",
                ));
            }
        }
        // Also false for NaN.
        if !(config.ingest.stream_from_mib >= 0.0) {
            errors.push(ConfigError::whole_file(
                &file,
                format!(
                    "`ingest.stream_from_mib` is a size in MiB, 0 or more (0 streams every workbook), got {}",
                    config.ingest.stream_from_mib
                ),
            ));
        }
        // Zero would mean no memory, no time for a first query, or no time for a run: each a
        // run that fails at once for a reason far from this file.
        let engine = &config.engine;
        for (name, value) in [
            ("memory_mib", engine.memory_mib),
            ("connect_timeout_seconds", engine.connect_timeout_seconds),
            ("run_timeout_minutes", engine.run_timeout_minutes),
        ] {
            if value == 0 {
                errors.push(ConfigError::whole_file(&file, format!("`engine.{name}` must be more than 0, got 0")));
            }
        }
        if let Some(smtp) = &config.delivery.smtp {
            let credentials =
                smtp.username_env.is_some() || smtp.password_env.is_some() || smtp.password_file.is_some();
            if smtp.security == SmtpSecurity::Plain && credentials && !smtp.allow_plaintext_auth {
                errors.push(ConfigError::whole_file(
                    &file,
                    "`delivery.smtp` sends a user name and password with `security = \"plain\"`, where anyone on the network can read them; use `starttls` or `tls`, or set `allow_plaintext_auth = true` for a server on this machine",
                ));
            }
        }
        if config.delivery.from.parse::<lettre::message::Mailbox>().is_err() {
            errors.push(ConfigError::whole_file(
                &file,
                format!(
                    "`delivery.from` = \"{}\" is not an email address such as \"网格日报 <wangge@example.gov.cn>\"",
                    config.delivery.from
                ),
            ));
        }
        let workspace = Workspace { root: root.to_path_buf(), config };
        let key = workspace.path(&workspace.config.privacy.key_file);
        if !key.is_file() {
            errors.push(ConfigError::whole_file(
                &file,
                format!("`privacy.key_file` points at `{}`, which does not exist", key.display()),
            ));
        }
        if errors.is_empty() { Ok(workspace) } else { Err(errors) }
    }

    /// Problems that do not stop a run but are probably mistakes.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = self.path(&self.config.privacy.key_file);
            if let Ok(meta) = std::fs::metadata(&key) {
                if meta.permissions().mode() & 0o077 != 0 {
                    warnings.push(format!(
                        "`{}` can be read by other users; run `chmod 600 {}`",
                        key.display(),
                        key.display()
                    ));
                }
            }
        }
        warnings
    }

    /// Resolves a configured path against the workspace folder.
    pub fn path(&self, configured: &Path) -> PathBuf {
        if configured.is_absolute() { configured.to_path_buf() } else { self.root.join(configured) }
    }

    /// The `[ingest]` limits on what a file may make wangge allocate.
    pub fn ingest_limits(&self) -> crate::ingest::limits::Limits {
        let i = &self.config.ingest;
        crate::ingest::limits::Limits {
            max_file_bytes: i.max_file_mib.saturating_mul(1 << 20),
            max_inflated_bytes: i.max_inflated_mib.saturating_mul(1 << 20),
            max_cells: i.max_cells,
        }
    }

    /// `[ingest] stream_from_mib` in bytes.
    pub fn stream_from_bytes(&self) -> u64 {
        (self.config.ingest.stream_from_mib.max(0.0) * (1 << 20) as f64) as u64
    }

    pub fn inbox(&self) -> PathBuf {
        self.path(&self.config.paths.inbox)
    }

    /// Display name for report titles.
    pub fn district_short_name(&self) -> &str {
        self.config.district.short_name.as_deref().unwrap_or(&self.config.district.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_settings_of_zero_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/wangge.toml");
        let text = std::fs::read_to_string(sample).unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/pseudonym.key"), [7u8; 32]).unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), &text).unwrap();
        assert!(Workspace::load(dir.path()).is_ok(), "the sample's settings load");
        let zero = text
            .replace("memory_mib = 1024", "memory_mib = 0")
            .replace("run_timeout_minutes = 60", "run_timeout_minutes = 0");
        std::fs::write(dir.path().join(CONFIG_FILE), zero).unwrap();
        let errors = Workspace::load(dir.path()).err().expect("refused");
        let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        assert!(messages.iter().any(|m| m.contains("`engine.memory_mib` must be more than 0")), "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("`engine.run_timeout_minutes` must be more than 0")),
            "{messages:?}"
        );
    }

    #[test]
    fn engine_is_chosen_by_name_or_scheduler_address_and_nothing_else() {
        let mut engine = EngineConfig::default();
        engine.choose("ballista").unwrap();
        assert_eq!((engine.kind, engine.scheduler.as_str()), (EngineKind::Ballista, "127.0.0.1:50050"));
        engine.choose("ballista://10.0.0.5:50051").unwrap();
        assert_eq!((engine.kind, engine.scheduler.as_str()), (EngineKind::Ballista, "10.0.0.5:50051"));
        engine.choose("local").unwrap();
        assert_eq!(engine.kind, EngineKind::Local);
        for bad in ["", "spark", "ballista://", "ballista://host:1/path", "http://10.0.0.5:50050"] {
            assert!(engine.choose(bad).is_err(), "{bad}");
        }
        assert_eq!(engine.kind, EngineKind::Local, "a refused choice changes nothing");
    }
}

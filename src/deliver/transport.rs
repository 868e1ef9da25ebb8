//! How a message leaves: through an SMTP server (plain, STARTTLS or TLS) with retries, or into
//! the outbox as an `.eml` file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Transport as _;
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};

use crate::config::workspace::{SmtpConfig, SmtpSecurity};

/// The result of one attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again later (4xx replies, connection trouble).
    Transient(String),
    /// Will not succeed as it is (5xx replies, bad address).
    Permanent(String),
}

pub struct Smtp {
    transport: SmtpTransport,
    pub retries: u32,
    pub backoff: Duration,
    pub server: String,
}

/// Credentials come from the environment or a secret file, never from `wangge.toml`.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("environment variable `{0}` (named by `delivery.smtp.{1}`) is not set")]
    MissingEnv(String, &'static str),
    #[error("cannot read the SMTP password file `{}`: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("the SMTP password file `{}` can be read by other users; run `chmod 600 {}`", .0.display(), .0.display())]
    Exposed(PathBuf),
    #[error("`delivery.smtp` names a password but no `username_env`")]
    NoUser,
    #[error("cannot set up TLS for `{host}`: {reason}")]
    Tls { host: String, reason: String },
}

impl Smtp {
    pub fn new(config: &SmtpConfig, workspace: &Path) -> Result<Smtp, CredentialsError> {
        let tls = |host: &str| {
            let fail = |reason: String| CredentialsError::Tls { host: host.to_string(), reason };
            let mut builder = TlsParameters::builder(host.to_string());
            if let Some(ca) = &config.ca_file {
                let path = if ca.is_absolute() { ca.clone() } else { workspace.join(ca) };
                let pem = std::fs::read(&path).map_err(|e| fail(format!("cannot read `{}`: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| fail(format!("`{}` is not a PEM certificate: {e}", path.display())))?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build().map_err(|e| fail(e.to_string()))
        };
        let builder = SmtpTransport::builder_dangerous(config.host.as_str()).port(config.port);
        let builder = match config.security {
            SmtpSecurity::Plain => builder.tls(Tls::None),
            SmtpSecurity::Starttls => builder.tls(Tls::Required(tls(&config.host)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls(&config.host)?)),
        };
        let builder = builder.timeout(Some(Duration::from_secs_f64(config.timeout_seconds)));
        let builder = match credentials(config, workspace)? {
            Some(c) => builder.credentials(c),
            None => builder,
        };
        Ok(Smtp {
            transport: builder.build(),
            retries: config.retries,
            backoff: Duration::from_secs_f64(config.backoff_seconds),
            server: format!("{}:{}", config.host, config.port),
        })
    }

    /// Sends one message, retrying transient failures with doubling pauses. Returns the last
    /// attempt's result and how many attempts were made.
    pub fn send(&self, message: &lettre::Message) -> (Attempt, u32) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = match self.transport.send(message) {
                Ok(_) => Attempt::Delivered,
                Err(e) if e.is_permanent() => Attempt::Permanent(describe(&e)),
                Err(e) => Attempt::Transient(describe(&e)),
            };
            match result {
                Attempt::Transient(_) if attempts <= self.retries => {
                    std::thread::sleep(self.backoff * 2u32.pow(attempts - 1));
                }
                other => return (other, attempts),
            }
        }
    }
}

/// lettre's error with its causes (`Connection error: Connection refused (os error 111)`).
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn credentials(config: &SmtpConfig, workspace: &Path) -> Result<Option<Credentials>, CredentialsError> {
    let env = |name: &String, key: &'static str| {
        std::env::var(name).map_err(|_| CredentialsError::MissingEnv(name.clone(), key))
    };
    let password = match (&config.password_env, &config.password_file) {
        (Some(name), _) => Some(env(name, "password_env")?),
        (None, Some(file)) => {
            let path = if file.is_absolute() { file.clone() } else { workspace.join(file) };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(&path) {
                    if meta.permissions().mode() & 0o077 != 0 {
                        return Err(CredentialsError::Exposed(path));
                    }
                }
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CredentialsError::File { path: path.clone(), reason: e.to_string() })?;
            Some(text.trim_end_matches(['\r', '\n']).to_string())
        }
        (None, None) => None,
    };
    match (&config.username_env, password) {
        (Some(user), Some(password)) => Ok(Some(Credentials::new(env(user, "username_env")?, password))),
        (Some(user), None) => Ok(Some(Credentials::new(env(user, "username_env")?, String::new()))),
        (None, Some(_)) => Err(CredentialsError::NoUser),
        (None, None) => Ok(None),
    }
}

/// Writes a message into the outbox atomically.
pub fn write_eml(path: &Path, message: &lettre::Message) -> std::io::Result<()> {
    crate::atomic_file::write(path, &message.formatted())
}

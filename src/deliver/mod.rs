//! Delivering the day's reports: each recipient gets only the reports of its scope, the HTML
//! report as the body and the workbook attached, through SMTP or into the outbox as `.eml`.
//!
//! Nothing is sent twice: the delivery ledger ([`ledger`]) remembers what each recipient got
//! (by content hash). A report whose content changed since (a late file came in) goes out
//! again marked 更正; one that did not is skipped, unless `resend`. One failing recipient does
//! not stop the others; when the server cannot be reached at all, the rest are not tried and
//! are reported as missed, so the next run sends exactly those.

pub mod ledger;
pub mod message;
pub mod recipients;
pub mod transport;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate};
use lettre::message::Mailbox;
use serde::Serialize;

use crate::config::ConfigError;
use crate::report::definition::DISTRICT;
use crate::report::safe_file_component;
use ledger::{Event, Ledger, Record, Transport};
use recipients::{Recipient, Scope};
use transport::Attempt;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("invalid recipient list:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Recipients(Vec<ConfigError>),
    #[error("`delivery.from` = \"{0}\" is not an email address such as \"网格日报 <wangge@example.gov.cn>\"")]
    From(String),
    #[error(transparent)]
    Credentials(#[from] transport::CredentialsError),
    #[error("cannot use the delivery ledger `{}`", path.display())]
    Ledger {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the report `{}`", path.display())]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`", path.display())]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where messages go.
pub enum Route {
    Smtp(transport::Smtp),
    /// `.eml` files under the outbox, recorded in the ledger: the delivery when no SMTP server
    /// is configured.
    Outbox(PathBuf),
    /// `.eml` files under `outbox/dry-run/`, recorded nowhere: what would be sent.
    DryRun(PathBuf),
}

pub struct Request<'a> {
    /// `reports/<date>/`.
    pub day_dir: &'a Path,
    pub date: NaiveDate,
    pub recipients: &'a [Recipient],
    pub from: &'a Mailbox,
    /// Lines put at the top of every message (data problems of the day), in Chinese.
    pub notices: &'a [String],
    pub resend: Resend,
    pub run_id: &'a str,
    pub started: DateTime<FixedOffset>,
    /// `runs/deliveries.jsonl`.
    pub ledger: &'a Path,
}

/// What is sent again although the ledger says it was (or may have been) delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Nothing: the default.
    None,
    /// Messages an earlier run died while sending (`unconfirmed`), after checking that they did
    /// not arrive.
    Unconfirmed,
    /// Everything.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted by the SMTP server.
    Sent,
    /// Written to the outbox.
    Written,
    /// Already delivered with the same content; not sent again.
    Unchanged,
    /// An earlier run died while sending it: it may have arrived, so it is not sent again
    /// without `--resend`.
    Unconfirmed,
    Failed,
    /// No report of the recipient's scope exists for the day.
    NoReport,
}

impl Status {
    /// Whether this delivery is a reason to alert (exit status 3).
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Unconfirmed | Status::NoReport)
    }
}

/// What happened to one report for one recipient.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub recipient: String,
    pub address: String,
    pub scope: String,
    pub report: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub status: Status,
    pub correction: bool,
    pub attempts: u32,
    pub error: Option<String>,
    pub eml: Option<PathBuf>,
}

/// A report of the day: its key (`town/130273101-老庄子镇`) and files.
struct Report {
    key: String,
    html: PathBuf,
    xlsx: PathBuf,
}

/// The reports of a scope for the day (normally one).
fn reports_in_scope(day_dir: &Path, scope: &Scope) -> Vec<Report> {
    // A code is a unit's of any declared scope (town, community, grid, building…): every report
    // folder of the day but the district's and the 退回修改 one is looked in.
    let (folders, prefix): (Vec<String>, Option<String>) = match scope {
        Scope::District => (vec![DISTRICT.to_string()], None),
        Scope::Code(code) => {
            let mut folders: Vec<String> = std::fs::read_dir(day_dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .filter(|n| n != DISTRICT && n != crate::report::returns::FOLDER)
                        .collect()
                })
                .unwrap_or_default();
            folders.sort();
            (folders, Some(format!("{}-", safe_file_component(code))))
        }
    };
    let mut out = Vec::new();
    for folder in &folders {
        let Ok(entries) = std::fs::read_dir(day_dir.join(folder)) else { continue };
        let mut stems: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".xlsx")).map(str::to_string))
            .filter(|stem| prefix.as_ref().is_none_or(|p| stem.starts_with(p.as_str())))
            .collect();
        stems.sort();
        for stem in stems {
            let dir = day_dir.join(folder);
            out.push(Report {
                key: format!("{folder}/{stem}"),
                html: dir.join(format!("{stem}.html")),
                xlsx: dir.join(format!("{stem}.xlsx")),
            });
        }
    }
    out
}

fn title_of(html: &str) -> Option<String> {
    let start = html.find("<title>")? + "<title>".len();
    let end = html[start..].find("</title>")? + start;
    let raw = html[start..end].trim();
    Some(
        raw.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'"),
    )
}

/// Delivers the day's reports to every recipient through `route`; `observe` sees each
/// delivery as it is decided (for progress and logs).
pub fn deliver(
    request: &Request,
    route: &Route,
    observe: &mut dyn FnMut(&Delivery),
) -> Result<Vec<Delivery>, DeliverError> {
    let transport = match route {
        Route::Smtp(_) => Transport::Smtp,
        Route::Outbox(_) | Route::DryRun(_) => Transport::Eml,
    };
    let ledger_error = |source| DeliverError::Ledger { path: request.ledger.to_path_buf(), source };
    let mut ledger = Ledger::open(request.ledger, transport).map_err(ledger_error)?;
    let date = request.date.to_string();
    let mut unreachable: Option<String> = None;
    let mut out = Vec::new();
    for recipient in request.recipients {
        let address = recipient.address.email.to_string();
        let base = Delivery {
            recipient: recipient.name.clone(),
            address: address.clone(),
            scope: recipient.scope.to_string(),
            report: None,
            subject: None,
            message_id: None,
            status: Status::NoReport,
            correction: false,
            attempts: 0,
            error: None,
            eml: None,
        };
        let reports = reports_in_scope(request.day_dir, &recipient.scope);
        if reports.is_empty() {
            let error = format!("no report for scope `{}` on {date}", recipient.scope);
            let d = Delivery { error: Some(error), ..base };
            observe(&d);
            out.push(d);
            continue;
        }
        for report in reports {
            let read =
                |p: &Path| std::fs::read(p).map_err(|source| DeliverError::Report { path: p.to_path_buf(), source });
            let html = String::from_utf8_lossy(&read(&report.html)?).into_owned();
            let xlsx = read(&report.xlsx)?;
            let wants = |f| recipient.formats.contains(&f);
            let mut parts: Vec<&[u8]> = Vec::new();
            if wants(recipients::Format::Html) {
                parts.push(html.as_bytes());
            }
            if wants(recipients::Format::Xlsx) {
                parts.push(&xlsx);
            }
            let sha256 = message::digest(&parts);
            let history = ledger.history(&date, &address, &report.key);
            let delivered_before = history.delivered.clone();
            let correction = delivered_before.as_ref().is_some_and(|(sha, _)| *sha != sha256);
            let id_seed =
                message::digest(&[date.as_bytes(), address.as_bytes(), report.key.as_bytes(), sha256.as_bytes()]);
            let message_id = format!("<{}.{}@wangge>", &id_seed[..32], date);
            let title = title_of(&html).unwrap_or_else(|| report.key.clone());
            let mut subject = if correction { format!("【更正】{title}") } else { title };
            if !request.notices.is_empty() {
                subject.push_str("（数据不全）");
            }
            let mut delivery = Delivery {
                report: Some(report.key.clone()),
                subject: Some(subject.clone()),
                message_id: Some(message_id.clone()),
                correction,
                ..base.clone()
            };
            let skip = match (history.last, &delivered_before) {
                _ if request.resend == Resend::All || matches!(route, Route::DryRun(_)) => None,
                (Some(Event::Sending), _) if request.resend == Resend::Unconfirmed => None,
                (Some(Event::Sending), _) => Some(Status::Unconfirmed),
                (_, Some((sha, _))) if *sha == sha256 => Some(Status::Unchanged),
                _ => None,
            };
            if let Some(status) = skip {
                delivery.status = status;
                if status == Status::Unconfirmed {
                    delivery.error = Some(
                        "an earlier run stopped while sending this message, so it may have arrived; \
                         check with the recipient, then send it with `wangge deliver --resend-unconfirmed`"
                            .into(),
                    );
                }
                observe(&delivery);
                out.push(delivery);
                continue;
            }
            let mut notices = Vec::new();
            if correction {
                notices.push(format!(
                    "更正：本报告替代此前发送的{}报告（有迟报或更正的材料补入）。",
                    request.date.format("%Y年%-m月%-d日")
                ));
            }
            notices.extend(request.notices.iter().cloned());
            let workbook_name = format!("{}.xlsx", report.key.rsplit('/').next().unwrap_or("report"));
            let letter = message::Letter {
                from: request.from,
                to: &recipient.address,
                subject,
                notices: &notices,
                html: wants(recipients::Format::Html).then_some(html.as_str()),
                workbook: wants(recipients::Format::Xlsx).then_some((workbook_name.as_str(), xlsx.as_slice())),
                message_id: &message_id,
                corrects: delivered_before.as_ref().filter(|_| correction).map(|(_, id)| id.as_str()),
                date: request.started.into(),
            };
            let built = match letter.build() {
                Ok(m) => m,
                Err(e) => {
                    delivery.status = Status::Failed;
                    delivery.error = Some(format!("cannot build the message: {e}"));
                    observe(&delivery);
                    out.push(delivery);
                    continue;
                }
            };
            let mut record = Record {
                date: date.clone(),
                address: address.clone(),
                report: report.key.clone(),
                sha256: sha256.clone(),
                message_id: message_id.clone(),
                transport,
                event: Event::Sending,
                correction,
                run_id: request.run_id.to_string(),
                at: request.started.to_rfc3339(),
                error: None,
            };
            match route {
                Route::Outbox(root) | Route::DryRun(root) => {
                    let mut name = report.key.replace('/', "-");
                    if correction {
                        name.push_str(&format!("-更正-{}", &sha256[..8]));
                    }
                    let path = root.join(&date).join(safe_file_component(&address)).join(format!("{name}.eml"));
                    transport::write_eml(&path, &built)
                        .map_err(|source| DeliverError::Outbox { path: path.clone(), source })?;
                    delivery.status = Status::Written;
                    delivery.attempts = 1;
                    delivery.eml = Some(path);
                    if matches!(route, Route::Outbox(_)) {
                        record.event = Event::Written;
                        ledger.append(&record).map_err(ledger_error)?;
                        crate::failpoint::hit("delivery.recorded");
                    }
                }
                Route::Smtp(smtp) => {
                    if let Some(reason) = &unreachable {
                        delivery.status = Status::Failed;
                        delivery.error =
                            Some(format!("not tried: the SMTP server {} could not be reached ({reason})", smtp.server));
                        observe(&delivery);
                        out.push(delivery);
                        continue;
                    }
                    ledger.append(&record).map_err(ledger_error)?;
                    crate::failpoint::hit("delivery.sending");
                    let (attempt, attempts) = smtp.send(&built);
                    delivery.attempts = attempts;
                    match attempt {
                        Attempt::Delivered => {
                            delivery.status = Status::Sent;
                            record.event = Event::Sent;
                        }
                        Attempt::Transient(e) | Attempt::Permanent(e) => {
                            if e.contains("Connection error") || e.contains("Network error") {
                                unreachable = Some(e.clone());
                            }
                            delivery.status = Status::Failed;
                            delivery.error = Some(e.clone());
                            record.event = Event::Failed;
                            record.error = Some(e);
                        }
                    }
                    ledger.append(&record).map_err(ledger_error)?;
                    crate::failpoint::hit("delivery.recorded");
                }
            }
            observe(&delivery);
            out.push(delivery);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn titles_come_from_the_page() {
        assert_eq!(super::title_of("<head><title> A &amp; B </title>").as_deref(), Some("A & B"));
        assert_eq!(super::title_of("<p>none</p>"), None);
    }
}

//! One email: a report's HTML as the body (with a plain-text part for clients that show no
//! HTML), its workbook attached, a Chinese subject naming the unit and the date.
//!
//! Everything in a message is derived from its content: the Message-ID and the MIME
//! boundaries are hashes, and the Date header is the run's start time, so the same report for
//! the same recipient is the same message (and an `.eml` rewritten after a crash is identical).

use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::recipients::Format;

pub struct Letter<'a> {
    pub from: &'a Mailbox,
    pub to: &'a Mailbox,
    pub subject: String,
    /// Lines for the top of the body: corrections, incomplete data.
    pub notices: &'a [String],
    /// The report's HTML page, if the recipient takes HTML.
    pub html: Option<&'a str>,
    /// The workbook's file name and bytes, if the recipient takes Excel.
    pub workbook: Option<(&'a str, &'a [u8])>,
    pub message_id: &'a str,
    /// The Message-ID of the message this one corrects.
    pub corrects: Option<&'a str>,
    pub date: std::time::SystemTime,
}

/// `X-Wangge-Report`: the report a message carries, for filters and for the tests.
#[derive(Clone)]
pub struct ReportHeader(pub String);

impl Header for ReportHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Wangge-Report")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ReportHeader(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// A hex digest of `parts`, for ids and boundaries.
pub fn digest(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    crate::digest::hex(&hasher.finalize())
}

/// The notices as the start of the HTML body, escaped.
fn notice_html(notices: &[String]) -> String {
    if notices.is_empty() {
        return String::new();
    }
    let items: String =
        notices.iter().map(|n| format!("<p style=\"margin:4px 0\">{}</p>", crate::report::escape_html(n))).collect();
    format!(
        "<div style=\"border:2px solid #c0392b;background:#fdecea;color:#7b241c;padding:8px 12px;margin:8px 0;\
         font-size:14px\">{items}</div>"
    )
}

/// Puts `insert` right after the page's `<body…>` tag (or first, if there is none).
fn after_body_tag(page: &str, insert: &str) -> String {
    match page.find("<body").and_then(|start| page[start..].find('>').map(|end| start + end + 1)) {
        Some(at) => format!("{}{insert}{}", &page[..at], &page[at..]),
        None => format!("{insert}{page}"),
    }
}

impl Letter<'_> {
    pub fn build(&self) -> Result<Message, lettre::error::Error> {
        let seed = digest(&[self.message_id.as_bytes()]);
        let boundary = |n: &str| format!("wangge-{n}-{}", &seed[..24]);
        let mut plain = String::new();
        for n in self.notices {
            plain.push_str(n);
            plain.push('\n');
        }
        plain.push_str(&self.subject);
        plain.push('\n');
        if let Some((name, _)) = self.workbook {
            plain.push_str(&format!("附件：{name}\n"));
        }
        plain.push_str("（本邮件由 wangge 自动发送，请勿直接回复。）\n");
        let text = SinglePart::plain(plain);
        let body = match self.html {
            Some(page) => {
                let html = after_body_tag(page, &notice_html(self.notices));
                MultiPart::alternative().boundary(boundary("alt")).singlepart(text).singlepart(SinglePart::html(html))
            }
            None => MultiPart::mixed().boundary(boundary("text")).singlepart(text),
        };
        let body = match self.workbook {
            Some((name, bytes)) => {
                let xlsx = ContentType::parse("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                    .expect("a valid media type");
                MultiPart::mixed()
                    .boundary(boundary("mixed"))
                    .multipart(body)
                    .singlepart(Attachment::new(name.to_string()).body(bytes.to_vec(), xlsx))
            }
            None => body,
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(self.subject.clone())
            .date(self.date)
            .message_id(Some(self.message_id.to_string()))
            .user_agent(format!("wangge {}", env!("CARGO_PKG_VERSION")))
            .header(ReportHeader(self.report_name()));
        if let Some(original) = self.corrects {
            builder = builder.in_reply_to(original.to_string()).references(original.to_string());
        }
        builder.multipart(body).map_err(Into::into)
    }

    fn report_name(&self) -> String {
        self.workbook.map(|(n, _)| n.trim_end_matches(".xlsx").to_string()).unwrap_or_else(|| self.subject.clone())
    }
}

/// Which formats a recipient's message carries, as the file extensions.
pub fn extensions(formats: &[Format]) -> Vec<&'static str> {
    formats
        .iter()
        .map(|f| match f {
            Format::Html => "html",
            Format::Xlsx => "xlsx",
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_letter_same_bytes_and_escaped_notices() {
        let from: Mailbox = "wangge <wangge@localhost>".parse().unwrap();
        let to: Mailbox = "张三 <zhang@example.cn>".parse().unwrap();
        let notices = vec!["注意：<b>2</b> 个社区应报未报".to_string()];
        let letter = Letter {
            from: &from,
            to: &to,
            subject: "唐山高新区网格化管理日报（2022年5月10日）".into(),
            notices: &notices,
            html: Some("<html><body class=\"x\"><h1>日报</h1></body></html>"),
            workbook: Some(("130273-高新区.xlsx", b"PK\x03\x04")),
            message_id: "<abc@wangge>",
            corrects: None,
            date: std::time::UNIX_EPOCH,
        };
        let a = letter.build().unwrap().formatted();
        let b = letter.build().unwrap().formatted();
        assert_eq!(a, b);
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("Message-ID: <abc@wangge>"), "{text}");
        assert!(notice_html(&notices).contains("&lt;b&gt;2&lt;/b&gt;"));
    }

    #[test]
    fn notice_goes_after_the_body_tag() {
        assert_eq!(after_body_tag("<html><body a=1><p>x</p>", "N"), "<html><body a=1>N<p>x</p>");
        assert_eq!(after_body_tag("<p>x</p>", "N"), "N<p>x</p>");
    }
}

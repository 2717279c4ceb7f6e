//! The data a fake Gmail serves — labels and messages stored as raw RFC 5322 bytes — and the
//! deterministic sample mailbox described in the module documentation of `gmail`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::date::{DAY_MS, days_from_civil, rfc5322};

/// A Gmail label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Label id, e.g. `INBOX` or `Label_1`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// True for labels Gmail defines.
    pub system: bool,
}

impl Label {
    fn system(id: &str) -> Self {
        Self {
            id: id.into(),
            name: id.into(),
            system: true,
        }
    }

    /// A user label, e.g. `Label_1` named `Work`.
    pub fn user(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            system: false,
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    /// Message id, 16 hex digits.
    pub id: String,
    /// Thread id (the id of the thread's first message).
    pub thread_id: String,
    /// Label ids, e.g. `["INBOX", "UNREAD"]`.
    pub label_ids: Vec<String>,
    /// Gmail's `internalDate`: when the message arrived, in ms since the Unix epoch.
    pub internal_date: i64,
    /// The message in RFC 5322 form, as received (bytes, since a body may be 8-bit).
    pub raw: Vec<u8>,
}

/// The data a fake Gmail serves.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// The account's address, as `GET profile` reports it.
    pub email: String,
    /// Every label, system and user.
    pub labels: Vec<Label>,
    /// Every message, in any order (lists sort newest first by `internal_date`).
    pub messages: Vec<MailMessage>,
}

/// Gmail's system labels; their names are their ids.
const SYSTEM_LABELS: [&str; 14] = [
    "INBOX",
    "SENT",
    "DRAFT",
    "SPAM",
    "TRASH",
    "STARRED",
    "UNREAD",
    "IMPORTANT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
];

/// Number of messages in [`Mailbox::sample`].
pub(super) const SAMPLE_SIZE: u32 = 32;

/// The id of sample message `n`: `18c` and `n` in 13 zero-padded decimal digits.
pub(super) fn sample_id(n: u32) -> String {
    format!("18c{n:013}")
}

/// When sample message `n` arrived: 2025-03-31 09:30 UTC, one day earlier per step of `n`.
pub(super) fn sample_date(n: u32) -> i64 {
    days_from_civil(2025, 3, 31) * DAY_MS + 34_200_000 - i64::from(n - 1) * DAY_MS
}

impl Mailbox {
    /// The deterministic sample mailbox the module documentation describes.
    pub fn sample() -> Self {
        let mut labels: Vec<Label> = SYSTEM_LABELS.into_iter().map(Label::system).collect();
        labels.push(Label::user("Label_1", "Work"));
        labels.push(Label::user("Label_2", "Receipts"));
        labels.push(Label::user("Label_3", "Reisen/Zürich"));
        let messages = (1..=SAMPLE_SIZE).map(sample_message).collect();
        Self {
            email: "me@example.com".into(),
            labels,
            messages,
        }
    }
}

const ME: &str = "Me <me@example.com>";

/// Sample message `n`.
fn sample_message(n: u32) -> MailMessage {
    let (labels, raw): (&[&str], String) = match n {
        1 => (&["INBOX", "UNREAD", "IMPORTANT"], quarterly_report()),
        2 => (&["INBOX", "CATEGORY_UPDATES"], weekly_digest()),
        3 => (&["INBOX", "Label_2"], receipt()),
        4 => (&["INBOX"], invoice()),
        5 => (&["INBOX", "Label_3", "UNREAD"], greetings()),
        6 => (&["INBOX", "Label_1"], kickoff()),
        7 => (&["SENT", "Label_1"], kickoff_reply()),
        8 => (
            &["TRASH", "CATEGORY_PROMOTIONS"],
            plain(
                &head(8, "Deals <deals@shop.example.com>", ME, "Spring sale"),
                "Everything must go: 50% off this week only.",
            ),
        ),
        9 => (
            &["SPAM", "UNREAD"],
            plain(
                &head(
                    9,
                    "Winner <winner@spam.example>",
                    ME,
                    "You have won a prize",
                ),
                "Claim your prize now by sending us your bank details.",
            ),
        ),
        10 => (
            &["INBOX", "STARRED"],
            plain(
                &head(10, "Carol <carol@example.com>", ME, "Dinner on Friday?"),
                "Shall we meet at 7? I'll bring the wine.",
            ),
        ),
        n => (
            &["INBOX"],
            plain(
                &head(
                    n,
                    "Filler Bot <filler@example.net>",
                    ME,
                    &format!("Filler #{n}"),
                ),
                &format!("This is filler message number {n}."),
            ),
        ),
    };
    MailMessage {
        id: sample_id(n),
        thread_id: sample_id(if n == 7 { 6 } else { n }),
        label_ids: labels.iter().map(|l| (*l).to_owned()).collect(),
        internal_date: sample_date(n),
        raw: raw.into_bytes(),
    }
}

/// `Date`, `From`, `To`, `Subject`, `Message-ID` (`<msg-N@example.com>`) and `MIME-Version`.
fn head(n: u32, from: &str, to: &str, subject: &str) -> String {
    let date = rfc5322(sample_date(n));
    format!(
        "Date: {date}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <msg-{n}@example.com>\r\nMIME-Version: 1.0\r\n"
    )
}

/// `head` with a UTF-8 text/plain body.
fn plain(head: &str, text: &str) -> String {
    format!(
        "{head}Content-Type: text/plain; charset=\"UTF-8\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n{text}\r\n"
    )
}

/// `bytes` in base64, lines of 76 characters.
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    lines.join("\r\n")
}

fn quarterly_report() -> String {
    let head = head(
        1,
        "Alice Example <alice@example.com>",
        "Me <me@example.com>, Carol <carol@example.com>",
        "Quarterly report",
    );
    plain(
        &format!("{head}Cc: Bob <bob@example.com>\r\n"),
        "Hi, here's the quarterly report: revenue grew 12% to 4.2M & costs stayed flat;\r\n\
         we will go through the details in Monday's meeting.\r\n\r\nAlice",
    )
}

fn weekly_digest() -> String {
    let head = head(
        2,
        "Example News <news@example.org>",
        "me@example.com",
        "Weekly digest",
    );
    let html = "<html><body><h1>Weekly digest</h1><p>Top story: <b>Rust 1.95</b> is out.</p>\
                <p>Also: the garden club meets on Sunday.</p></body></html>";
    format!(
        "{head}Content-Type: multipart/alternative; boundary=\"digest-boundary\"\r\n\r\n\
         --digest-boundary\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n\
         Top story: Rust 1.95 is out.\r\nAlso: the garden club meets on Sunday.\r\n\
         --digest-boundary\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--digest-boundary--\r\n",
        base64_lines(html.as_bytes())
    )
}

fn receipt() -> String {
    let head = head(
        3,
        "Shop <receipts@shop.example.com>",
        "me@example.com",
        "Your receipt",
    );
    format!(
        "{head}Content-Type: text/html; charset=\"UTF-8\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n\
         <html><head><style>p {{ color: #333; }}</style></head><body>\
         <p>Thanks for your order &amp; payment.</p><p>Total: 9.99 EUR<br>Order 1001</p>\
         </body></html>\r\n"
    )
}

fn invoice() -> String {
    let head = head(
        4,
        "Billing <billing@example.com>",
        "me@example.com",
        "Invoice 42",
    );
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    format!(
        "{head}Reply-To: support@example.com\r\n\
         Content-Type: multipart/mixed; boundary=\"invoice-boundary\"\r\n\r\n\
         --invoice-boundary\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n\
         Please find invoice 42 attached. Amount due: 120.00 EUR.\r\n\
         --invoice-boundary\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--invoice-boundary--\r\n",
        base64_lines(pdf)
    )
}

fn greetings() -> String {
    let head = head(
        5,
        "=?UTF-8?Q?Zo=C3=AB?= <zoe@example.de>",
        "me@example.com",
        "=?UTF-8?B?R3LDvMOfZSBhdXMgWsO8cmljaA==?=",
    );
    format!(
        "{head}Content-Type: text/plain; charset=ISO-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n\
         Liebe Gr=FC=DFe aus Z=FCrich! Der See ist wundersch=F6n.\r\nBis bald, Zo=EB\r\n"
    )
}

fn kickoff() -> String {
    let head = head(
        6,
        "Bob <bob@example.com>",
        "me@example.com",
        "Project kickoff",
    )
    .replace("<msg-6@example.com>", "<kickoff@example.com>");
    plain(&head, "Kickoff is on Monday at 10:00 in room 4.")
}

fn kickoff_reply() -> String {
    let head = head(7, ME, "Bob <bob@example.com>", "Re: Project kickoff")
        .replace("<msg-7@example.com>", "<reply-kickoff@example.com>");
    plain(
        &format!(
            "{head}In-Reply-To: <kickoff@example.com>\r\nReferences: <kickoff@example.com>\r\n"
        ),
        "Works for me, see you there.",
    )
}

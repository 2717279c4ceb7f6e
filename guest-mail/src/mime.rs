//! Mail formats: building outgoing RFC 5322 messages, and reading what Gmail returns.
//!
//! Outgoing: every header with non-ASCII text is RFC 2047 encoded (display names only, in
//! address headers, so addresses stay readable), bodies are UTF-8 in base64, an HTML message
//! with a text body is multipart/alternative, and `Bcc` is included (Gmail's `messages.send`
//! delivers to it and strips it from the copies it sends).
//! Incoming: RFC 2047 encoded words are decoded (B and Q; UTF-8, ISO-8859-1, Windows-1252,
//! ASCII), and part bodies are decoded from their declared charset.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};

/// A message to build.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Recipients, comma-separated.
    pub to: String,
    /// Cc, comma-separated.
    pub cc: Option<String>,
    /// Bcc, comma-separated.
    pub bcc: Option<String>,
    /// Reply-To.
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
    /// `In-Reply-To` (a reply).
    pub in_reply_to: Option<String>,
    /// `References` (a reply).
    pub references: Option<String>,
    /// Boundary for multipart bodies (random in production, fixed in tests).
    pub boundary: String,
}

impl Draft {
    /// The message in RFC 5322 form, CRLF line endings.
    pub fn to_rfc5322(&self) -> String {
        let mut m = String::new();
        let mut header = |name: &str, value: &str| {
            m.push_str(name);
            m.push_str(": ");
            m.push_str(value);
            m.push_str("\r\n");
        };
        header("To", &encode_addresses(&self.to));
        if let Some(cc) = &self.cc {
            header("Cc", &encode_addresses(cc));
        }
        if let Some(bcc) = &self.bcc {
            header("Bcc", &encode_addresses(bcc));
        }
        if let Some(r) = &self.reply_to {
            header("Reply-To", &encode_addresses(r));
        }
        header("Subject", &encode_word(&self.subject));
        if let Some(id) = &self.in_reply_to {
            header("In-Reply-To", id);
        }
        if let Some(refs) = &self.references {
            header("References", refs);
        }
        header("MIME-Version", "1.0");
        match (&self.text, &self.html) {
            (Some(text), Some(html)) => {
                let b = &self.boundary;
                header(
                    "Content-Type",
                    &format!("multipart/alternative; boundary=\"{b}\""),
                );
                m.push_str("\r\n");
                for (kind, body) in [("plain", text), ("html", html)] {
                    m.push_str(&format!("--{b}\r\n"));
                    m.push_str(&part(kind, body));
                }
                m.push_str(&format!("--{b}--\r\n"));
            }
            (None, Some(html)) => m.push_str(&part("html", html)),
            (text, None) => m.push_str(&part("plain", text.as_deref().unwrap_or_default())),
        }
        m
    }

    /// The message as Gmail's `raw` field takes it: base64url.
    pub fn to_raw(&self) -> String {
        URL_SAFE.encode(self.to_rfc5322())
    }
}

/// Headers and body of one UTF-8 text part, base64 in lines of 76.
fn part(subtype: &str, body: &str) -> String {
    let encoded = STANDARD.encode(body.as_bytes());
    let mut s = format!(
        "Content-Type: text/{subtype}; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    );
    for line in encoded.as_bytes().chunks(76) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push_str("\r\n");
    }
    s
}

/// `text` as one RFC 2047 B-encoded word when it is not plain ASCII.
pub fn encode_word(text: &str) -> String {
    if text.is_ascii() && !text.contains("=?") {
        text.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(text.as_bytes()))
    }
}

/// An address list with non-ASCII display names encoded: `Zoë <z@x>` → `=?UTF-8?B?…?= <z@x>`.
pub fn encode_addresses(list: &str) -> String {
    split_addresses(list)
        .iter()
        .map(|addr| match addr.rfind('<') {
            Some(i) if !addr[..i].trim().is_empty() => {
                let name = addr[..i].trim().trim_matches('"');
                let name = if name.is_ascii() && !name.contains([',', '"']) {
                    name.to_owned()
                } else if name.is_ascii() {
                    format!("\"{}\"", name.replace('"', "'"))
                } else {
                    encode_word(name)
                };
                format!("{name} {}", addr[i..].trim())
            }
            _ => addr.trim().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a comma-separated address list, keeping commas inside quotes or angle brackets.
pub fn split_addresses(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut quoted, mut angle) = (String::new(), false, false);
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_owned());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Decodes RFC 2047 encoded words in a header value; text that is not encoded passes through.
pub fn decode_header(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match parse_word(candidate) {
            Some((decoded, len)) => {
                // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[len..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One `=?charset?B|Q?text?=` word at the start of `s`: its text and length.
fn parse_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, body) = body.split_once('?')?;
    let (encoding, body) = body.split_once('?')?;
    let end = body.find("?=")?;
    let text = &body[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => STANDARD
            .decode(text)
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
            })
            .ok()?,
        "Q" | "q" => decode_q(text)?,
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset);
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(&bytes, charset), len))
}

fn decode_q(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Bytes in `charset` as text (unknown charsets: UTF-8, lossily).
pub fn decode_charset(bytes: &[u8], charset: &str) -> String {
    match charset
        .trim()
        .trim_matches('"')
        .to_ascii_lowercase()
        .as_str()
    {
        "iso-8859-1" | "latin1" | "latin-1" | "iso8859-1" => {
            bytes.iter().map(|&b| b as char).collect()
        }
        "windows-1252" | "cp1252" => bytes.iter().map(|&b| cp1252(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Windows-1252: Latin-1 except 0x80–0x9F.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        _ => b as char,
    }
}

/// Decodes a Gmail `body.data` field (base64url, padded or not).
pub fn decode_body_data(data: &str) -> Option<Vec<u8>> {
    URL_SAFE
        .decode(data)
        .or_else(|_| URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')))
        .ok()
}

/// The `charset` parameter of a Content-Type value, if any.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_b_and_q_words_in_several_charsets() {
        assert_eq!(
            decode_header("=?UTF-8?B?UmVpc2UgbmFjaCBaw7xyaWNo?="),
            "Reise nach Zürich"
        );
        assert_eq!(
            decode_header("=?iso-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?="),
            "Grüße aus Köln"
        );
        assert_eq!(decode_header("Re: =?utf-8?q?caf=C3=A9?= ok"), "Re: café ok");
        assert_eq!(
            decode_header("=?UTF-8?B?SGVs?= =?UTF-8?B?bG8=?="),
            "Hello",
            "adjacent words join"
        );
        assert_eq!(decode_header("plain =? not a word"), "plain =? not a word");
        assert_eq!(decode_header("=?windows-1252?Q?=93quoted=94?="), "“quoted”");
    }

    #[test]
    fn outgoing_headers_are_encoded_and_bcc_is_kept() {
        let d = Draft {
            to: "Zoë Müller <zoe@example.com>, bob@example.com".into(),
            bcc: Some("secret@example.com".into()),
            subject: "Grüße".into(),
            text: Some("Hallo Zoë".into()),
            ..Draft::default()
        };
        let m = d.to_rfc5322();
        assert!(
            m.contains("To: =?UTF-8?B?Wm/DqyBNw7xsbGVy?= <zoe@example.com>, bob@example.com\r\n"),
            "{m}"
        );
        assert!(m.contains("Bcc: secret@example.com\r\n"));
        assert!(m.contains("Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"));
        assert!(m.contains(
            "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64"
        ));
        assert!(m.contains(&STANDARD.encode("Hallo Zoë")));
        assert!(m.is_ascii());
    }

    #[test]
    fn html_with_text_is_multipart_alternative() {
        let d = Draft {
            to: "a@b".into(),
            subject: "s".into(),
            text: Some("t".into()),
            html: Some("<b>h</b>".into()),
            boundary: "BOUNDARY".into(),
            ..Draft::default()
        };
        let m = d.to_rfc5322();
        assert!(m.contains("Content-Type: multipart/alternative; boundary=\"BOUNDARY\""));
        assert!(m.contains("--BOUNDARY\r\nContent-Type: text/plain"));
        assert!(m.contains("--BOUNDARY\r\nContent-Type: text/html"));
        assert!(m.ends_with("--BOUNDARY--\r\n"));
    }

    #[test]
    fn address_lists_split_outside_quotes() {
        assert_eq!(
            split_addresses(r#""Doe, Jane" <j@x>, k@y; l@z"#),
            [r#""Doe, Jane" <j@x>"#, "k@y", "l@z"]
        );
    }

    #[test]
    fn charsets_and_body_data_decode() {
        assert_eq!(
            charset_of("text/plain; charset=\"ISO-8859-1\"").as_deref(),
            Some("ISO-8859-1")
        );
        assert_eq!(
            decode_charset(&[0x47, 0x72, 0xfc, 0xdf], "iso-8859-1"),
            "Grüß"
        );
        assert_eq!(decode_body_data("SGk_").unwrap(), b"Hi?");
        assert_eq!(decode_body_data("SGk").unwrap(), b"Hi");
    }
}

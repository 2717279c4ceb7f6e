//! Reading RFC 5322 / MIME messages the way Gmail does: headers unfolded but otherwise kept as
//! written (RFC 2047 words stay encoded), and a tree of parts whose leaf bodies are
//! transfer-decoded (base64, quoted-printable) but left in their own charset.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::text::{decode_charset, hex_byte, html_to_text};

/// One MIME part; a whole message is its root part.
#[derive(Debug, Clone, Default)]
pub(super) struct Part {
    /// Headers in message order, unfolded, values as written.
    pub(super) headers: Vec<(String, String)>,
    /// Lowercased `type/subtype` (`text/plain` when not declared).
    pub(super) mime_type: String,
    /// The attachment's file name; empty for parts that are not attachments.
    pub(super) filename: String,
    /// The transfer-decoded bytes of a leaf part (empty for multipart parts).
    pub(super) body: Vec<u8>,
    /// The children of a multipart part.
    pub(super) parts: Vec<Part>,
}

impl Part {
    /// The first header called `name` (case-insensitive).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for `multipart/*`.
    pub(super) fn is_multipart(&self) -> bool {
        self.mime_type.starts_with("multipart/")
    }

    /// The part's charset (`us-ascii` when not declared, as MIME says).
    fn charset(&self) -> String {
        let content_type = self.header("Content-Type").unwrap_or_default();
        param(content_type, "charset").unwrap_or_else(|| "us-ascii".into())
    }

    /// Every part of the tree, depth first, with its Gmail part id (`""`, `0`, `1.0`, …).
    pub(super) fn walk(&self) -> Vec<(String, &Part)> {
        let mut out = vec![(String::new(), self)];
        let mut i = 0;
        while i < out.len() {
            let (id, part) = (out[i].0.clone(), out[i].1);
            let children = part.parts.iter().enumerate().map(|(n, child)| {
                let child_id = if id.is_empty() {
                    n.to_string()
                } else {
                    format!("{id}.{n}")
                };
                (child_id, child)
            });
            out.splice(i + 1..i + 1, children);
            i += 1;
        }
        out
    }

    /// The decoded text of the first inline leaf of `mime_type`.
    fn first_text(&self, mime_type: &str) -> Option<String> {
        self.walk()
            .into_iter()
            .map(|(_, p)| p)
            .find(|p| p.mime_type == mime_type && p.filename.is_empty() && !p.is_multipart())
            .map(|p| decode_charset(&p.body, &p.charset()))
    }

    /// The body as a reader sees it: the text/plain part, else the HTML part as text.
    pub(super) fn body_text(&self) -> String {
        self.first_text("text/plain")
            .or_else(|| self.first_text("text/html").map(|h| html_to_text(&h)))
            .unwrap_or_default()
    }

    /// True when some part is an attachment.
    pub(super) fn has_attachment(&self) -> bool {
        self.walk().iter().any(|(_, p)| !p.filename.is_empty())
    }
}

/// Parses a whole message (or one part of a multipart body).
pub(super) fn parse(raw: &[u8]) -> Part {
    let (head, body) = split_head(raw);
    let headers = parse_headers(head);
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    };
    let content_type = find("Content-Type");
    let mut mime_type = main_value(content_type);
    if !mime_type.contains('/') {
        mime_type = "text/plain".into();
    }
    let filename = param(find("Content-Disposition"), "filename")
        .or_else(|| param(content_type, "name"))
        .unwrap_or_default();
    let boundary = param(content_type, "boundary").filter(|_| mime_type.starts_with("multipart/"));
    let (body, parts) = match boundary {
        Some(boundary) => {
            let parts = split_multipart(body, &boundary).into_iter().map(parse);
            (Vec::new(), parts.collect())
        }
        None => (
            decode_transfer(body, find("Content-Transfer-Encoding")),
            Vec::new(),
        ),
    };
    Part {
        headers,
        mime_type,
        filename,
        body,
        parts,
    }
}

/// The header block and the body, split at the first empty line.
pub(super) fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return (&raw[..pos], &raw[pos + line.len()..]);
        }
        pos += line.len();
    }
    (raw, &[])
}

/// Header fields, unfolded (a line starting with a space or tab continues the previous one),
/// names and values trimmed; lines that are neither are ignored.
pub(super) fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    for (_, value) in &mut headers {
        *value = value.trim().to_owned();
    }
    headers
}

/// The lowercased value before the first `;`, e.g. `text/plain`.
fn main_value(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A `name=value` parameter of a structured header (quotes removed).
pub(super) fn param(value: &str, name: &str) -> Option<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ';' if !quoted => segments.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    segments.push(current);
    segments.iter().skip(1).find_map(|segment| {
        let (key, val) = segment.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_owned())
    })
}

/// The bodies between `--boundary` lines, up to `--boundary--`.
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let end = pos + line.len();
        if let Some(rest) = line.trim_ascii_end().strip_prefix(delimiter.as_bytes()) {
            let closing = rest == b"--";
            if rest.is_empty() || closing {
                if let Some(s) = start {
                    parts.push(strip_newline(&body[s..pos]));
                }
                if closing {
                    return parts;
                }
                start = Some(end);
            }
        }
        pos = end;
    }
    parts.extend(start.map(|s| &body[s..]));
    parts
}

/// `bytes` without the line break that belongs to the delimiter after it.
fn strip_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// The body decoded from its `Content-Transfer-Encoding` (undecodable base64 is kept as is).
fn decode_transfer(body: &[u8], encoding: &str) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let unpadded = clean
                .strip_suffix(b"==")
                .or_else(|| clean.strip_suffix(b"="));
            STANDARD
                .decode(&clean)
                .or_else(|_| STANDARD_NO_PAD.decode(unpadded.unwrap_or(&clean)))
                .unwrap_or_else(|_| body.to_vec())
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_vec(),
    }
}

/// Quoted-printable: `=XX` is a byte, `=` at the end of a line joins it to the next.
fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'=' {
            out.push(body[i]);
            i += 1;
        } else if let Some(b) = hex_byte(body.get(i + 1..i + 3)) {
            out.push(b);
            i += 3;
        } else if body.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else if body.get(i + 1..i + 3) == Some(b"\r\n") {
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &str = "Subject: =?UTF-8?B?w6Q=?=\r\n  folded\r\nX-Empty:\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
        Content-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n\
        Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
        Gr=FC=DFe, soft=\r\nbreak\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n\
        --b1\r\nContent-Type: application/pdf; name=\"a;b.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        JVBE\r\nRi0=\r\n--b1--\r\nepilogue\r\n";

    #[test]
    fn multipart_trees_parse_with_part_ids_and_decoded_bodies() {
        let root = parse(MIXED.as_bytes());
        assert_eq!(root.header("subject"), Some("=?UTF-8?B?w6Q=?=  folded"));
        assert_eq!(root.header("X-Empty"), Some(""));
        assert_eq!(root.mime_type, "multipart/mixed");
        let ids: Vec<(String, String)> = root
            .walk()
            .into_iter()
            .map(|(id, p)| (id, p.mime_type.clone()))
            .collect();
        let want = [
            ("", "multipart/mixed"),
            ("0", "multipart/alternative"),
            ("0.0", "text/plain"),
            ("0.1", "text/html"),
            ("1", "application/pdf"),
        ];
        let want: Vec<(String, String)> = want.map(|(a, b)| (a.into(), b.into())).into();
        assert_eq!(ids, want);
        let walked = root.walk();
        assert_eq!(walked[2].1.body, b"Gr\xFC\xDFe, softbreak");
        assert_eq!(walked[4].1.body, b"%PDF-");
        assert_eq!(walked[4].1.filename, "a;b.pdf");
        assert!(root.has_attachment());
        assert_eq!(root.body_text(), "Grüße, softbreak");
    }

    #[test]
    fn a_message_without_headers_or_mime_is_plain_text() {
        let part = parse(b"no colon here\n\nbody");
        assert_eq!(part.mime_type, "text/plain");
        assert!(part.headers.is_empty());
        assert_eq!(part.body, b"body");
        assert_eq!(split_head(b"A: b"), (&b"A: b"[..], &b""[..]));
    }
}

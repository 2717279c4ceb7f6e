//! Text as Gmail's search and snippets see it: charsets, RFC 2047 encoded words, HTML reduced
//! to text, entities, and the snippet's own escaping.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

/// Longest snippet, in characters, before escaping.
const SNIPPET_CHARS: usize = 100;

/// `bytes` decoded from `charset`: UTF-8 and ASCII, else ISO-8859-1 for the Latin-1 family
/// (Windows-1252's extra characters are read as Latin-1 controls); unknown charsets as UTF-8.
pub(super) fn decode_charset(bytes: &[u8], charset: &str) -> String {
    let charset = charset.trim().trim_matches('"').to_ascii_lowercase();
    match charset.as_str() {
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "iso-8859-15" | "windows-1252"
        | "cp1252" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A header value with its RFC 2047 encoded words (B and Q) decoded; whitespace between two
/// adjacent encoded words is dropped, as the RFC says.
pub(super) fn decode_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match encoded_word(candidate) {
            Some((text, len)) => {
                if !(after_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = candidate.get(len..).unwrap_or_default();
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = candidate.get(2..).unwrap_or_default();
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The decoded text of the encoded word `s` starts with, and the word's length in bytes.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = inner.get(..end)?;
    if charset.contains(char::is_whitespace) || text.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text.trim_end_matches('=')))
            .ok()?,
        "Q" | "q" => decode_q(text),
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let charset = charset.split('*').next().unwrap_or(charset);
    Some((decode_charset(&bytes, charset), len))
}

/// The Q encoding: `_` is a space, `=XX` a byte.
fn decode_q(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex_byte(bytes.get(i + 1..i + 3))) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'_', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The byte two hex digits spell.
pub(super) fn hex_byte(digits: Option<&[u8]>) -> Option<u8> {
    let text = std::str::from_utf8(digits?).ok()?;
    u8::from_str_radix(text, 16).ok()
}

/// The readable text of `html`: tags dropped (block elements become line breaks), `<head>`,
/// `<style>`, `<script>` and `<title>` dropped with their content, entities decoded.
pub(super) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt + 1..];
        let (tag, next) = after.split_once('>').unwrap_or((after, ""));
        rest = next;
        let closing = tag.starts_with('/');
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !closing && matches!(name.as_str(), "head" | "style" | "script" | "title") {
            let end = rest.to_ascii_lowercase().find(&format!("</{name}"));
            rest = end.map_or("", |i| &rest[i..]);
        } else if matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "table" | "ul" | "ol" | "hr" | "blockquote"
        ) || (name.len() == 2 && name.starts_with('h') && name != "hr")
        {
            out.push('\n');
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric references decoded;
/// anything else kept as written.
pub(super) fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| Some((entity(&after[..semi])?, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Gmail's snippet of a body text: whitespace collapsed, the first 100 characters, HTML-escaped
/// as Gmail does (`&` `<` `>` `"` `'` become `&amp;` `&lt;` `&gt;` `&quot;` `&#39;`).
pub(super) fn snippet(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(SNIPPET_CHARS).collect();
    let mut out = String::with_capacity(cut.len());
    for c in cut.trim_end().chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{a0}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_decode_in_b_and_q() {
        assert_eq!(
            decode_words("=?UTF-8?B?R3LDvMOfZSBhdXMgWsO8cmljaA==?="),
            "Grüße aus Zürich"
        );
        assert_eq!(
            decode_words("=?UTF-8?Q?Zo=C3=AB?= <zoe@example.de>"),
            "Zoë <zoe@example.de>"
        );
        assert_eq!(
            decode_words("=?iso-8859-1?q?Gr=FC=DFe?= =?utf-8?q?_da?="),
            "Grüße da"
        );
        assert_eq!(decode_words("=?utf-8*de?Q?a_b?="), "a b");
        assert_eq!(decode_words("plain =? text"), "plain =? text");
    }

    #[test]
    fn html_becomes_text_and_snippets_escape_like_gmail() {
        let html = "<html><head><style>p { color: red; }</style></head>\
                    <body><p>Fish &amp; chips</p>Total<br>9&#46;99 &euro;</body></html>";
        let text = html_to_text(html);
        assert!(!text.contains("color"), "{text}");
        assert_eq!(snippet(&text), "Fish &amp; chips Total 9.99 &amp;euro;");
        assert_eq!(
            snippet("It's <b> \"x\""),
            "It&#39;s &lt;b&gt; &quot;x&quot;"
        );
        assert_eq!(snippet(&"é".repeat(150)).chars().count(), 100);
        assert_eq!(decode_charset(&[b'G', b'r', 0xFC], "ISO-8859-1"), "Grü");
    }
}

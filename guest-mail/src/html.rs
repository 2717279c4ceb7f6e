//! HTML to readable text, for messages that have no text/plain part: block elements become
//! line breaks, `<script>`/`<style>`/`<head>` are dropped, entities are decoded, whitespace is
//! collapsed. Small on purpose: a reading aid for an LLM, not a renderer.

/// The text of `html`.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            push_text(&mut out, &rest[..lt]);
        }
        let tag_end = rest[lt..].find('>').map_or(rest.len(), |i| lt + i + 1);
        let tag = rest[lt + 1..tag_end.saturating_sub(1).max(lt + 1)].trim();
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        if let Some(end) = skip_until {
            if closing && name == end {
                skip_until = None;
            }
        } else if !closing && matches!(name.as_str(), "script" | "style" | "head" | "title") {
            skip_until = Some(match name.as_str() {
                "script" => "script",
                "style" => "style",
                "head" => "head",
                _ => "title",
            });
        } else if matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "tr"
                | "li"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "table"
                | "ul"
                | "ol"
                | "blockquote"
                | "hr"
        ) {
            if name == "li" && !closing {
                newline(&mut out);
                out.push_str("- ");
            } else {
                newline(&mut out);
            }
        }
        rest = &rest[tag_end.min(rest.len())..];
    }
    if skip_until.is_none() {
        push_text(&mut out, rest);
    }
    let mut text: String = out
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.trim().to_owned()
}

fn newline(out: &mut String) {
    if !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Appends text with whitespace collapsed and entities decoded. A separating space is kept
/// only where the source had whitespace, so inline tags (`Hello <b>Zoë</b>,`) join cleanly.
fn push_text(out: &mut String, text: &str) {
    let decoded = decode_entities(text);
    let at_boundary = out.is_empty() || out.ends_with(['\n', ' ']);
    if decoded.starts_with(char::is_whitespace) && !at_boundary {
        out.push(' ');
    }
    out.push_str(&decoded.split_whitespace().collect::<Vec<_>>().join(" "));
    if decoded.ends_with(char::is_whitespace) && !decoded.trim().is_empty() {
        out.push(' ');
    }
}

/// Decodes the common named entities and all numeric ones.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_lines_and_scripts_vanish() {
        let html = "<html><head><title>x</title><style>p{}</style></head><body>\
                    <p>Hello&nbsp;<b>Zoë</b>,</p><p>Total: 5 &lt; 6 &amp; &#8364;3</p>\
                    <script>alert(1)</script><ul><li>one</li><li>two</li></ul>Bye<br>now</body></html>";
        assert_eq!(
            to_text(html),
            "Hello Zoë,\nTotal: 5 < 6 & €3\n- one\n- two\nBye\nnow"
        );
    }

    #[test]
    fn stray_ampersands_and_unknown_entities_survive() {
        assert_eq!(decode_entities("A & B &bogus; &#x41;"), "A & B &bogus; A");
    }
}

//! Search criteria: Gmail query syntax passes through; the IMAP forms the MCS mail driver
//! advertised (`FROM "x"`, `SUBJECT "x"`, `UNSEEN`, `SINCE 01-Jan-2025`, …) are translated,
//! since Gmail would read them as plain words.

/// The Gmail `q` for `criteria` (empty for "everything").
pub fn to_gmail(criteria: &str) -> String {
    let tokens = tokenize(criteria);
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let upper = t.text.to_ascii_uppercase();
        let arg = tokens.get(i + 1);
        let with_arg = |op: &str| arg.map(|a| format!("{op}:{}", quote(&a.text)));
        let translated = if t.quoted {
            None
        } else {
            match upper.as_str() {
                "ALL" => Some(String::new()),
                "UNSEEN" => Some("is:unread".into()),
                "SEEN" => Some("is:read".into()),
                "FLAGGED" => Some("is:starred".into()),
                "UNFLAGGED" => Some("-is:starred".into()),
                "ANSWERED" => Some("in:sent".into()),
                "DELETED" => Some("in:trash".into()),
                "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" if arg.is_some() => {
                    i += 1;
                    with_arg(&upper.to_ascii_lowercase())
                }
                "TEXT" | "BODY" if arg.is_some() => {
                    i += 1;
                    arg.map(|a| quote(&a.text))
                }
                "SINCE" | "BEFORE" | "ON" if arg.is_some_and(|a| imap_date(&a.text).is_some()) => {
                    i += 1;
                    let date = arg.and_then(|a| imap_date(&a.text)).unwrap_or_default();
                    Some(match upper.as_str() {
                        "SINCE" => format!("after:{date}"),
                        "BEFORE" => format!("before:{date}"),
                        _ => format!("after:{date} before:{}", next_day(&date)),
                    })
                }
                _ => None,
            }
        };
        match translated {
            Some(s) if s.is_empty() => {}
            Some(s) => out.push(s),
            None if t.quoted => out.push(quote(&t.text)),
            None => out.push(t.text.clone()),
        }
        i += 1;
    }
    out.join(" ")
}

struct Token {
    text: String,
    quoted: bool,
}

fn tokenize(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
            tokens.push(Token { text, quoted: true });
        } else {
            let mut text = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '"' && text.ends_with(':') {
                    // Gmail operator with a quoted value: keep `from:"a b"` as one token.
                    chars.next();
                    let value: String = chars.by_ref().take_while(|&c| c != '"').collect();
                    text.push_str(&quote(&value));
                    continue;
                }
                text.push(c);
                chars.next();
            }
            tokens.push(Token {
                text,
                quoted: false,
            });
        }
    }
    tokens
}

fn quote(s: &str) -> String {
    if s.contains(char::is_whitespace) || s.is_empty() {
        format!("\"{}\"", s.replace('"', ""))
    } else {
        s.to_owned()
    }
}

/// `01-Jan-2025` → `2025/01/01`.
fn imap_date(s: &str) -> Option<String> {
    let mut parts = s.split('-');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: u32 = parts.next()?.parse().ok()?;
    (parts.next().is_none() && (1..=31).contains(&day) && year > 1900)
        .then(|| format!("{year:04}/{month:02}/{day:02}"))
}

/// The day after `yyyy/mm/dd` (Gmail's `before:` is exclusive).
fn next_day(date: &str) -> String {
    let p: Vec<u32> = date.split('/').filter_map(|x| x.parse().ok()).collect();
    let [y, m, d] = p[..] else {
        return date.to_owned();
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let (y, m, d) = if d < days {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    };
    format!("{y:04}/{m:02}/{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_criteria_become_gmail_operators() {
        assert_eq!(to_gmail(r#"FROM "alice" UNSEEN"#), "from:alice is:unread");
        assert_eq!(
            to_gmail(r#"SUBJECT "quarterly report""#),
            "subject:\"quarterly report\""
        );
        assert_eq!(
            to_gmail("SINCE 01-Jan-2025 BEFORE 15-Feb-2025"),
            "after:2025/01/01 before:2025/02/15"
        );
        assert_eq!(
            to_gmail("ON 28-Feb-2024"),
            "after:2024/02/28 before:2024/02/29"
        );
        assert_eq!(to_gmail("ALL"), "");
        assert_eq!(to_gmail("FLAGGED TEXT invoice"), "is:starred invoice");
    }

    #[test]
    fn gmail_syntax_passes_through() {
        assert_eq!(
            to_gmail("from:bob has:attachment newer_than:7d"),
            "from:bob has:attachment newer_than:7d"
        );
        assert_eq!(
            to_gmail(r#"subject:"a b" -label:Work"#),
            "subject:\"a b\" -label:Work"
        );
        assert_eq!(
            to_gmail("from"),
            "from",
            "an operator without its argument stays a word"
        );
    }
}

//! Gmail search (`q` of `messages.list`): a conjunction of terms, each optionally negated
//! (`-term`), `a OR b` between two terms.
//!
//! Operators: `from:` `to:` (To, Cc or Bcc) `cc:` `bcc:` `subject:` (`from:me` is the account's
//! address), `label:NAME` (a label's name in any case, `/` and spaces may be written `-`, or
//! its id), `in:inbox|sent|trash|spam|starred|draft|anywhere`, `is:unread|read|starred|important`,
//! `has:attachment`, `after:` / `before:` (`YYYY/MM/DD`, midnight UTC, or Unix seconds; after is
//! inclusive, before exclusive), `newer_than:` / `older_than:` (`Nd`, `Nm`, `Ny`), quoted
//! phrases and bare words. Values match whole words, case-insensitively, in the decoded (RFC
//! 2047) headers; bare words and phrases in the subject, sender and body text (HTML as text).
//! Anything else (an unknown operator, an unparsable date) is searched as a bare word; unknown
//! `in:`/`is:`/`has:` values match nothing. Not supported: parentheses, `{…}`, `AROUND`,
//! `size:`, `filename:`, `category:`, `deliveredto:`, `list:`, `rfc822msgid:`.

use super::date::{parse_period, parse_search_date};
use super::mailbox::Label;
use super::store::Stored;

/// A parsed search: every clause must hold; a clause holds when one of its terms does.
#[derive(Debug, Default)]
pub(super) struct Query {
    clauses: Vec<Vec<Term>>,
}

#[derive(Debug)]
struct Term {
    negated: bool,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    From(String),
    To(String),
    Cc(String),
    Bcc(String),
    Subject(String),
    Label(String),
    In(String),
    Is(String),
    Has(String),
    After(i64),
    Before(i64),
    NewerThan(i64),
    OlderThan(i64),
    Text(String),
}

/// What matching needs besides the message.
pub(super) struct Context<'a> {
    /// Every label of the mailbox (for `label:NAME`).
    pub(super) labels: &'a [Label],
    /// The account's address (for `from:me`).
    pub(super) email: &'a str,
    /// Now, in ms (for `newer_than:`).
    pub(super) now: i64,
}

impl Query {
    /// Parses `q`; every input parses (the worst case is a bare word).
    pub(super) fn parse(q: &str) -> Self {
        let mut clauses: Vec<Vec<Term>> = Vec::new();
        let mut or_pending = false;
        for token in tokenize(q) {
            if token == "OR" && !clauses.is_empty() {
                or_pending = true;
                continue;
            }
            let Some(term) = Term::parse(&token) else {
                continue;
            };
            match clauses.last_mut() {
                Some(clause) if or_pending => clause.push(term),
                _ => clauses.push(vec![term]),
            }
            or_pending = false;
        }
        Self { clauses }
    }

    /// True when the query itself asks for spam or trash (`in:trash`, `in:spam`,
    /// `in:anywhere`, `label:trash`, `label:spam`), so those are not left out.
    pub(super) fn reaches_spam_or_trash(&self) -> bool {
        self.clauses.iter().flatten().any(|t| {
            !t.negated
                && match &t.kind {
                    Kind::In(v) => matches!(v.as_str(), "trash" | "spam" | "anywhere"),
                    Kind::Label(v) => matches!(v.as_str(), "trash" | "spam"),
                    _ => false,
                }
        })
    }

    /// True when `m` satisfies the query.
    pub(super) fn matches(&self, m: &Stored, cx: &Context<'_>) -> bool {
        self.clauses
            .iter()
            .all(|clause| clause.iter().any(|t| t.matches(m, cx) != t.negated))
    }
}

impl Term {
    fn parse(token: &str) -> Option<Self> {
        let (negated, token) = match token.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, token),
        };
        let token = token.trim_matches(|c| c == '(' || c == ')');
        if token.is_empty() {
            return None;
        }
        let lower = token.to_lowercase();
        let unquote = |v: &str| v.trim_matches('"').to_owned();
        let kind = match lower.split_once(':') {
            Some((op, value)) if !value.is_empty() => {
                let value = unquote(value);
                match op {
                    "from" => Kind::From(value),
                    "to" => Kind::To(value),
                    "cc" => Kind::Cc(value),
                    "bcc" => Kind::Bcc(value),
                    "subject" => Kind::Subject(value),
                    "label" => Kind::Label(value),
                    "in" => Kind::In(value),
                    "is" => Kind::Is(value),
                    "has" => Kind::Has(value),
                    "after" | "before" => match parse_search_date(&value) {
                        Some(t) if op == "after" => Kind::After(t),
                        Some(t) => Kind::Before(t),
                        None => Kind::Text(unquote(&lower)),
                    },
                    "newer_than" | "older_than" => match parse_period(&value) {
                        Some(p) if op == "newer_than" => Kind::NewerThan(p),
                        Some(p) => Kind::OlderThan(p),
                        None => Kind::Text(unquote(&lower)),
                    },
                    _ => Kind::Text(unquote(&lower)),
                }
            }
            _ => Kind::Text(unquote(&lower)),
        };
        Some(Self { negated, kind })
    }

    /// Whether `m` matches the term, before negation.
    fn matches(&self, m: &Stored, cx: &Context<'_>) -> bool {
        let s = &m.search;
        let field = |hay: &str, value: &str| {
            let value = if value == "me" { cx.email } else { value };
            contains_word(hay, &value.to_lowercase())
        };
        match &self.kind {
            Kind::From(v) => field(&s.from, v),
            Kind::To(v) => field(&s.to, v) || field(&s.cc, v) || field(&s.bcc, v),
            Kind::Cc(v) => field(&s.cc, v),
            Kind::Bcc(v) => field(&s.bcc, v),
            Kind::Subject(v) => contains_word(&s.subject, v),
            Kind::Label(v) => cx
                .labels
                .iter()
                .find(|l| label_matches(l, v))
                .is_some_and(|l| m.has(&l.id)),
            Kind::In(v) if v == "anywhere" => true,
            Kind::In(v) => {
                let label = if v == "drafts" { "draft" } else { v };
                m.has(&label.to_ascii_uppercase())
            }
            Kind::Is(v) => match v.as_str() {
                "unread" => m.has("UNREAD"),
                "read" => !m.has("UNREAD"),
                "starred" => m.has("STARRED"),
                "important" => m.has("IMPORTANT"),
                _ => false,
            },
            Kind::Has(v) => v == "attachment" && m.part.has_attachment(),
            Kind::After(t) => m.message.internal_date >= *t,
            Kind::Before(t) => m.message.internal_date < *t,
            Kind::NewerThan(p) => m.message.internal_date > cx.now - p,
            Kind::OlderThan(p) => m.message.internal_date < cx.now - p,
            Kind::Text(v) => contains_word(&s.all, v),
        }
    }
}

/// Whether `label:value` names `label`: its id or name in any case, `/` and spaces as `-`.
fn label_matches(label: &Label, value: &str) -> bool {
    let name = label.name.to_lowercase();
    label.id.eq_ignore_ascii_case(value)
        || name == value
        || name.replace(['/', ' '], "-") == value.replace(['/', ' '], "-")
}

/// Whether `needle` (lowercase) occurs in `hay` (lowercase) with no letter or digit right
/// before or after it.
fn contains_word(hay: &str, needle: &str) -> bool {
    let needle = needle.split_whitespace().collect::<Vec<_>>().join(" ");
    if needle.is_empty() {
        return true;
    }
    hay.match_indices(&needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Splits at whitespace outside double quotes; quotes are kept (`"a b"`, `from:"a b"`).
fn tokenize(q: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_quoted_values_together() {
        assert_eq!(
            tokenize(r#"from:"Alice Example" -"a b"  x"#),
            [r#"from:"Alice Example""#, r#"-"a b""#, "x"]
        );
        let q = Query::parse("a OR b -c in:trash");
        assert_eq!(q.clauses.len(), 3);
        assert_eq!(q.clauses[0].len(), 2);
        assert!(q.clauses[1][0].negated);
        assert!(q.reaches_spam_or_trash());
        assert!(!Query::parse("-in:spam").reaches_spam_or_trash());
    }

    #[test]
    fn words_match_at_word_boundaries_only() {
        assert!(contains_word("alice example <alice@example.com>", "alice"));
        assert!(contains_word("alice@example.com", "example.com"));
        assert!(contains_word("grüße aus zürich", "zürich"));
        assert!(contains_word("a  b", "a   b") || contains_word("a b", "a   b"));
        assert!(!contains_word("quarterly report", "port"));
        assert!(!contains_word("filler #11", "#1"));
        let work = Label::user("Label_3", "Reisen/Zürich");
        assert!(label_matches(&work, "reisen-zürich"));
        assert!(label_matches(&work, "label_3"));
        assert!(label_matches(&work, "reisen/zürich"));
    }
}

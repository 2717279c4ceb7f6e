//! The broker's form templates (linkauth-broker.md §4): the built-in forms (`api_key`,
//! `basic_auth`, `aws`, `openai`, `anthropic`), the field shape the page is served, and how a
//! session's template, custom fields or OAuth provider resolve to what the page shows.

use serde::{Deserialize, Serialize};

/// A form field row: name, label, type, required.
type FieldRow = (&'static str, &'static str, &'static str, bool);

/// The broker's built-in form templates: id, display name, fields.
const BUILTIN_FORMS: [(&str, &str, &[FieldRow]); 5] = [
    (
        "api_key",
        "API Key",
        &[("api_key", "API Key", "password", true)],
    ),
    (
        "basic_auth",
        "Login Credentials",
        &[
            ("username", "Username", "text", true),
            ("password", "Password", "password", true),
        ],
    ),
    (
        "aws",
        "AWS Credentials",
        &[
            ("access_key_id", "Access Key ID", "text", true),
            ("secret_access_key", "Secret Access Key", "password", true),
            ("region", "Region", "text", false),
        ],
    ),
    (
        "openai",
        "OpenAI",
        &[("api_key", "OpenAI API Key", "password", true)],
    ),
    (
        "anthropic",
        "Anthropic",
        &[("api_key", "Anthropic API Key", "password", true)],
    ),
];

/// A form field, as sent in `fields` and served to the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Field {
    name: String,
    label: String,
    #[serde(rename = "type", default = "text")]
    kind: String,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    options: Option<Vec<String>>,
}

fn text() -> String {
    "text".into()
}

fn yes() -> bool {
    true
}

/// Template resolution (linkauth-broker.md §4): display name, OAuth or not, fields; or the
/// "Invalid Template" detail. (The caller has checked that a named provider is configured.)
pub(super) fn resolve_template(
    template: Option<&str>,
    display_name: Option<&str>,
    fields: &Option<Vec<Field>>,
    provider: &Option<String>,
) -> Result<(String, bool, Vec<Field>), String> {
    let name = |default: &str| display_name.unwrap_or(default).to_owned();
    if let Some(provider) = provider {
        return Ok((name(&format!("OAuth ({provider})")), true, Vec::new()));
    }
    if let Some((_, display_name, rows)) = BUILTIN_FORMS.iter().find(|t| Some(t.0) == template) {
        let fields = rows.iter().map(|&(name, label, kind, required)| Field {
            name: name.into(),
            label: label.into(),
            kind: kind.into(),
            required,
            options: None,
        });
        return Ok((name(display_name), false, fields.collect()));
    }
    match fields {
        Some(fields) if !fields.is_empty() => {
            Ok((name("Custom Credentials"), false, fields.clone()))
        }
        _ => {
            let id = template.unwrap_or("None");
            Err(format!(
                "Unknown template '{id}' and no custom fields or OAuth provider provided"
            ))
        }
    }
}

//! GitHub's own argument check: an owner or a repository name must be one path segment of a
//! GitHub URL. The rest (the parameter table, its JSON Schemas, types, ranges and choices) is
//! the `guest-tools` crate's; all of it is checked before any token is asked for or any request
//! is sent, so a bad call costs nothing upstream.

use guest_tools::Kind;

/// One path segment of a GitHub URL: an owner or a repository name.
pub const SEGMENT: Kind = Kind::Checked {
    pattern: "^[^/\\s]+$",
    check: segment,
};

/// Why `s` cannot be one path segment of a GitHub URL: it must be a single, plain name, so that
/// a caller cannot walk the URL elsewhere (`../../user`) or smuggle a query in.
fn segment(s: &str) -> Result<(), &'static str> {
    if s.trim().is_empty() {
        Err("must not be empty")
    } else if s.contains(['/', '\\']) {
        Err("must be a single name without '/' (give the owner and the repository separately)")
    } else if s == "." || s == ".." {
        Err("must be a name, not \".\" or \"..\"")
    } else if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err("must not contain spaces or control characters")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use guest_tools::{Args, Error, Param};

    use super::*;

    const PARAMS: &[Param] = &[Param {
        name: "owner",
        kind: SEGMENT,
        required: true,
        description: "Owner.",
    }];

    #[test]
    fn path_segments_cannot_walk_the_url() {
        for bad in [
            "",
            " ",
            "a/b",
            "..",
            ".",
            "a\\b",
            "a b",
            "a\nb",
            "../../user",
        ] {
            let raw = serde_json::json!({ "owner": bad }).to_string();
            match Args::parse("t", &raw, PARAMS) {
                Err(Error::InvalidArguments(message)) => assert!(
                    message.starts_with("\"owner\" of \"t\" must"),
                    "{bad:?}: {message}"
                ),
                other => panic!("{bad:?}: expected invalid arguments, got {other:?}"),
            }
        }
        for good in [
            "octocat",
            "my-org",
            "Hello.World",
            "a..b",
            "repo_1",
            "ünïcode",
        ] {
            let raw = serde_json::json!({ "owner": good }).to_string();
            let args = Args::parse("t", &raw, PARAMS).unwrap();
            assert_eq!(args.required("owner").unwrap(), good);
        }
    }
}

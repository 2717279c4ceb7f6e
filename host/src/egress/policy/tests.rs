//! Tests of `egress::policy`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

fn policy(entries: &[&str]) -> EgressPolicy {
    EgressPolicy::parse(entries).expect("policy parses")
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("test URL parses")
}

fn error(entry: &str) -> PolicyError {
    AllowedHost::parse(entry).expect_err("entry is rejected")
}

fn message(entry: &str) -> String {
    error(entry).to_string()
}

#[track_caller]
fn check(entries: &[&str], cases: &[(&str, bool)]) {
    let policy = policy(entries);
    for (target, expected) in cases {
        assert_eq!(
            policy.allows(&url(target)),
            *expected,
            "{entries:?} allowing {target}"
        );
    }
}

#[test]
fn empty_policy_denies_everything() {
    let policy = EgressPolicy::default();
    assert!(policy.is_deny_all());
    assert_eq!(policy, EgressPolicy::parse::<&str>(&[]).expect("parses"));
    for target in ["https://example.com/", "http://127.0.0.1/", "http://[::1]/"] {
        assert!(!policy.allows(&url(target)), "{target}");
    }
    assert!(!policy.names_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

#[test]
fn parses_entries_into_their_parts() {
    let cases = [
        (
            "https://gmail.googleapis.com",
            SchemeMatch::Https,
            HostMatch::Domain("gmail.googleapis.com".into()),
            PortMatch::Exact(443),
        ),
        (
            "http://localhost:8080",
            SchemeMatch::Http,
            HostMatch::Domain("localhost".into()),
            PortMatch::Exact(8080),
        ),
        (
            "*://*.example.com:*",
            SchemeMatch::Any,
            HostMatch::AnySubdomainOf("example.com".into()),
            PortMatch::Any,
        ),
        (
            "*://10.0.0.1",
            SchemeMatch::Any,
            HostMatch::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            PortMatch::SchemeDefault,
        ),
        (
            "http://[::1]:3000/",
            SchemeMatch::Http,
            HostMatch::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            PortMatch::Exact(3000),
        ),
    ];
    for (entry, scheme, host, port) in cases {
        let parsed = AllowedHost::parse(entry).expect("entry parses");
        assert_eq!(parsed, AllowedHost { scheme, host, port }, "{entry}");
    }
}

#[test]
fn exact_domain_matches_case_insensitively_and_ignores_trailing_dot() {
    check(
        &["https://API.Example.COM."],
        &[
            ("https://api.example.com/v1/thing?q=1", true),
            ("https://API.EXAMPLE.COM/", true),
            ("https://api.example.com./", true),
            ("https://example.com/", false),
            ("https://x.api.example.com/", false),
            ("https://api.example.com.evil.net/", false),
        ],
    );
}

#[test]
fn accepts_subdomain_wildcard_but_not_apex() {
    check(
        &["https://*.example.com"],
        &[
            ("https://a.example.com/", true),
            ("https://a.b.c.example.com/", true),
            ("https://A.Example.Com./", true),
            ("https://example.com/", false),
            ("https://badexample.com/", false),
            ("https://example.com.evil.net/", false),
        ],
    );
}

#[test]
fn star_host_matches_names_and_ips() {
    check(
        &["https://*"],
        &[
            ("https://example.com/", true),
            ("https://127.0.0.1/", true),
            ("https://[::1]/", true),
            ("http://example.com/", false),
            ("https://example.com:8443/", false),
        ],
    );
}

#[test]
fn default_port_comes_from_scheme() {
    check(
        &["http://plain.test", "https://secure.test"],
        &[
            ("http://plain.test/", true),
            ("http://plain.test:80/", true),
            ("http://plain.test:443/", false),
            ("https://secure.test/", true),
            ("https://secure.test:443/", true),
            ("https://secure.test:80/", false),
        ],
    );
    assert_eq!(
        policy(&["https://secure.test"]),
        policy(&["https://secure.test:443"])
    );
}

#[test]
fn star_scheme_uses_request_scheme_default_port() {
    check(
        &["*://example.com"],
        &[
            ("http://example.com/", true),
            ("https://example.com/", true),
            ("http://example.com:443/", false),
            ("https://example.com:80/", false),
            ("https://example.com:8443/", false),
        ],
    );
}

#[test]
fn star_port_allows_any_port_but_keeps_scheme() {
    check(
        &["http://example.com:*"],
        &[
            ("http://example.com/", true),
            ("http://example.com:1/", true),
            ("http://example.com:65535/", true),
            ("https://example.com/", false),
        ],
    );
}

#[test]
fn port_mismatch_is_denied() {
    check(
        &["https://example.com:8443"],
        &[
            ("https://example.com:8443/", true),
            ("https://example.com/", false),
            ("https://example.com:8444/", false),
        ],
    );
}

#[test]
fn scheme_mismatch_is_denied() {
    check(
        &["https://example.com"],
        &[
            ("https://example.com/", true),
            ("http://example.com:443/", false),
        ],
    );
}

#[test]
fn only_http_and_https_urls_can_match() {
    check(
        &["*://*:*"],
        &[
            ("http://example.com/", true),
            ("https://example.com:1234/", true),
            ("ftp://example.com/", false),
            ("ws://example.com/", false),
            ("wss://example.com/", false),
            ("file:///etc/passwd", false),
            ("data:text/plain,hello", false),
        ],
    );
}

#[test]
fn url_with_userinfo_never_matches() {
    check(
        &["*://*:*", "https://example.com"],
        &[
            ("https://user@example.com/", false),
            ("https://user:secret@example.com/", false),
            ("https://:secret@example.com/", false),
            ("https://example.com/", true),
        ],
    );
}

#[test]
fn domain_entry_never_matches_ip_url_and_vice_versa() {
    check(
        &["http://localhost"],
        &[("http://localhost/", true), ("http://127.0.0.1/", false)],
    );
    check(
        &["http://127.0.0.1", "http://[::1]"],
        &[
            ("http://127.0.0.1/", true),
            ("http://[::1]/", true),
            ("http://localhost/", false),
            ("http://127.0.0.2/", false),
        ],
    );
}

#[test]
fn numeric_ipv4_forms_are_compared_as_addresses() {
    check(&["https://example.com"], &[("https://2130706433/", false)]);
    check(
        &["http://127.0.0.1:8080"],
        &[
            ("http://2130706433:8080/", true),
            ("http://0x7f000001:8080/", true),
            ("http://127.1:8080/", true),
            ("http://2130706433/", false),
        ],
    );
    assert_eq!(
        policy(&["http://2130706433:8080"]),
        policy(&["http://127.0.0.1:8080"])
    );
}

#[test]
fn ipv4_mapped_ipv6_is_normalised() {
    check(
        &["http://127.0.0.1"],
        &[
            ("http://[::ffff:127.0.0.1]/", true),
            ("http://[::1]/", false),
        ],
    );
    let mapped = policy(&["http://[::ffff:127.0.0.1]"]);
    assert_eq!(mapped, policy(&["http://127.0.0.1"]));
    assert!(mapped.allows(&url("http://127.0.0.1/")));
    assert_eq!(
        mapped.entries().collect::<Vec<_>>(),
        ["http://127.0.0.1:80"]
    );
}

#[test]
fn names_ip_only_for_explicit_ip_entries() {
    let named = policy(&["http://127.0.0.1:8080", "https://[2001:db8::1]"]);
    assert!(named.names_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(named.names_ip("::ffff:127.0.0.1".parse().expect("ip")));
    assert!(named.names_ip("2001:db8::1".parse().expect("ip")));
    assert!(!named.names_ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));

    let wildcard = policy(&["*://*:*", "http://localhost"]);
    assert!(!wildcard.names_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(!wildcard.names_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
}

#[test]
fn entries_are_written_back_in_canonical_form() {
    let parsed = policy(&[
        "HTTPS://Gmail.GoogleAPIs.com/",
        "*://*.Example.com",
        "*://*:*",
        "http://[0:0:0:0:0:0:0:1]:8080",
        "http://localhost:*",
    ]);
    let written: Vec<String> = parsed.entries().collect();
    assert_eq!(
        written,
        [
            "https://gmail.googleapis.com:443",
            "*://*.example.com",
            "*://*:*",
            "http://[::1]:8080",
            "http://localhost:*",
        ]
    );
    assert_eq!(EgressPolicy::parse(&written), Ok(parsed));
}

#[test]
fn internationalised_domains_match_their_punycode_form() {
    check(
        &["https://bücher.example"],
        &[
            ("https://xn--bcher-kva.example/", true),
            ("https://bücher.example/", true),
        ],
    );
}

#[test]
fn first_bad_entry_is_the_error() {
    let result = EgressPolicy::parse(&["https://ok.test", "bad.test", "*"]);
    assert_eq!(
        result,
        Err(PolicyError::MissingScheme {
            entry: "bad.test".into(),
            suggestion: "https://bad.test".into(),
        })
    );
}

#[test]
fn missing_scheme_error_says_to_add_one() {
    assert_eq!(
        message("gmail.googleapis.com"),
        "allowed host \"gmail.googleapis.com\" has no scheme; it must start with a scheme \
         such as \"https://\", e.g. write it as \"https://gmail.googleapis.com\""
    );
    assert!(matches!(
        error("localhost:8080"),
        PolicyError::MissingScheme { suggestion, .. } if suggestion == "https://localhost:8080"
    ));
}

#[test]
fn rejects_unsupported_scheme() {
    for entry in ["ftp://example.com", "ws://example.com", "://example.com"] {
        let text = message(entry);
        assert!(
            matches!(error(entry), PolicyError::UnsupportedScheme { .. }),
            "{entry}"
        );
        assert!(
            text.contains("use \"http://\", \"https://\" or \"*://\""),
            "{text}"
        );
    }
}

#[test]
fn bare_star_error_suggests_full_form() {
    assert_eq!(error("*"), PolicyError::BareStar { entry: "*".into() });
    assert!(message("*").contains("write \"*://*:*\""));
}

#[test]
fn rejects_insecure_allow_all() {
    let text = message("insecure:allow-all");
    assert!(
        text.contains("\"insecure:allow-all\" is not supported"),
        "{text}"
    );
    assert!(text.contains("list each allowed host explicitly"), "{text}");
}

#[test]
fn rejects_userinfo_in_entry() {
    for entry in [
        "https://user@example.com",
        "https://user:pw@example.com:8443",
    ] {
        assert!(
            matches!(error(entry), PolicyError::Userinfo { .. }),
            "{entry}"
        );
    }
    assert_eq!(
        message("https://user:pw@example.com:8443"),
        "allowed host \"https://user:pw@example.com:8443\" contains userinfo; credentials do \
         not belong in the policy, write it as \"https://example.com:8443\""
    );
}

#[test]
fn rejects_path() {
    for entry in [
        "https://example.com/api",
        "https://example.com//",
        "https://example.com:443/v1/",
    ] {
        assert!(
            matches!(error(entry), PolicyError::NotAnOrigin { part: "path", .. }),
            "{entry}"
        );
    }
    let text = message("https://example.com:443/v1/");
    assert!(
        text.contains("write it as \"https://example.com:443\""),
        "{text}"
    );
    assert!(AllowedHost::parse("https://example.com/").is_ok());
}

#[test]
fn rejects_query_and_fragment() {
    for entry in ["https://example.com?x=1", "https://example.com/?x=1"] {
        assert!(
            matches!(error(entry), PolicyError::NotAnOrigin { part: "query", .. }),
            "{entry}"
        );
        assert!(message(entry).contains("write it as \"https://example.com\""));
    }
    for entry in ["https://example.com#top", "https://example.com/#top"] {
        assert!(
            matches!(
                error(entry),
                PolicyError::NotAnOrigin {
                    part: "fragment",
                    ..
                }
            ),
            "{entry}"
        );
        assert!(message(entry).contains("write it as \"https://example.com\""));
    }
}

#[test]
fn rejects_empty_host() {
    for entry in ["https://", "https://:443", "http:///", "https://."] {
        assert!(
            matches!(error(entry), PolicyError::EmptyHost { .. }),
            "{entry}"
        );
    }
    assert!(message("https://").contains("e.g. \"https://api.example.com\""));
}

#[test]
fn rejects_misplaced_wildcards() {
    for entry in [
        "https://foo*.com",
        "https://*com",
        "https://a.*.com",
        "https://*.*.com",
        "https://**",
    ] {
        assert!(
            matches!(error(entry), PolicyError::MisplacedWildcard { .. }),
            "{entry}"
        );
    }
    assert!(message("https://*com").contains("e.g. \"https://*.example.com\""));
    for entry in ["https://*.", "https://*.127.0.0.1"] {
        assert!(
            matches!(error(entry), PolicyError::WildcardSuffixNotDomain { .. }),
            "{entry}"
        );
    }
}

#[test]
fn rejects_malformed_hosts() {
    for entry in [
        "https://exa mple.com",
        "https://a..b.com",
        "http://256.1.1.1",
        "http://[::1",
        "http://[not-ip]",
        "http://[::1]x",
    ] {
        assert!(
            matches!(error(entry), PolicyError::InvalidHost { .. }),
            "{entry}"
        );
    }
    let text = message("http://::1");
    assert!(text.contains("e.g. \"http://[::1]:8080\""), "{text}");
}

#[test]
fn rejects_port_ranges_and_bad_ports() {
    let text = message("https://example.com:8000..8080");
    assert!(
        text.contains("port range, which is not supported"),
        "{text}"
    );
    assert!(text.contains("write \"*\" for any port"), "{text}");
    for entry in [
        "https://example.com:",
        "https://example.com:0",
        "https://example.com:65536",
        "https://example.com:+443",
        "https://example.com:https",
    ] {
        assert!(
            matches!(error(entry), PolicyError::InvalidPort { .. }),
            "{entry}"
        );
        assert!(message(entry).contains("write a number from 1 to 65535"));
    }
    assert!(AllowedHost::parse("https://example.com:65535").is_ok());
}

#[test]
fn error_messages_are_lowercase_without_trailing_period() {
    for entry in [
        "example.com",
        "ftp://example.com",
        "*",
        "insecure:allow-all",
        "https://u@example.com",
        "https://example.com/p",
        "https://example.com?q",
        "https://example.com#f",
        "https://",
        "https://f*o.com",
        "https://*.1.2.3.4",
        "http://::1",
        "https://exa mple.com",
        "https://example.com:1..2",
        "https://example.com:x",
    ] {
        let text = message(entry);
        assert!(text.starts_with("allowed host "), "{text}");
        assert!(!text.ends_with('.'), "{text}");
        assert!(text.contains(&format!("{entry:?}")), "{text}");
    }
}

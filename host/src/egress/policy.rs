//! The egress allow-list: parsing and matching of Spin-style `allowed_outbound_hosts` entries.
//!
//! This module owns the syntax (`scheme://host[:port]`, with `*` wildcards), the canonical
//! written-back form of each entry, and the decision whether an absolute URL's scheme, host and
//! effective port are allowed. It is pure data and performs no I/O.
//!
//! It leaves to others: DNS resolution and the private-range checks on resolved addresses live
//! in `egress::blocked`, and enforcement on outgoing requests lives in `egress::hooks`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use url::{Host, Url};

/// A parsed list of allowed destinations. `Default` allows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    entries: Vec<AllowedHost>,
}

impl EgressPolicy {
    /// Parses every entry; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, PolicyError> {
        let entries = entries
            .iter()
            .map(|entry| AllowedHost::parse(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { entries })
    }

    /// True when the absolute URL's scheme, host and effective port match an entry.
    #[must_use]
    pub fn allows(&self, url: &Url) -> bool {
        self.entries.iter().any(|entry| entry.allows(url))
    }

    /// True when the policy allows nothing.
    #[must_use]
    pub fn is_deny_all(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when some entry names this exact IP literal (not via `*`).
    #[must_use]
    pub fn names_ip(&self, ip: IpAddr) -> bool {
        let ip = normalise_ip(ip);
        self.entries
            .iter()
            .any(|entry| entry.host == HostMatch::Ip(ip))
    }

    /// The entries as written back in canonical form (e.g. `"https://gmail.googleapis.com:443"`).
    pub fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().map(ToString::to_string)
    }

    /// The IP literals the entries name (`HostMatch::Ip`), without formatting anything.
    pub(crate) fn named_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.entries.iter().filter_map(|entry| match entry.host {
            HostMatch::Ip(ip) => Some(ip),
            _ => None,
        })
    }
}

/// One parsed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    /// Which URL schemes the entry allows.
    pub scheme: SchemeMatch,
    /// Which hosts the entry allows.
    pub host: HostMatch,
    /// Which ports the entry allows.
    pub port: PortMatch,
}

/// The scheme part of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemeMatch {
    /// `*`: either `http` or `https`.
    Any,
    /// `http` only.
    Http,
    /// `https` only.
    Https,
}

/// The host part of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// `*`: any host, named or IP.
    Any,
    /// `*.suffix`: any subdomain of the (lowercase) suffix at any depth, but not the suffix itself.
    AnySubdomainOf(String),
    /// A DNS name, lowercase and without a trailing dot.
    Domain(String),
    /// An IP literal; IPv4-mapped IPv6 addresses are stored as IPv4.
    Ip(IpAddr),
}

/// The port part of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortMatch {
    /// `*`: any port.
    Any,
    /// No port written: the default port of the request's scheme (80 for http, 443 for https).
    SchemeDefault,
    /// Exactly this port.
    Exact(u16),
}

/// Why an entry could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The entry has no `scheme://` prefix.
    #[error(
        "allowed host {entry:?} has no scheme; it must start with a scheme such as \"https://\", \
         e.g. write it as {suggestion:?}"
    )]
    MissingScheme {
        /// The entry as written.
        entry: String,
        /// The entry with `https://` in front.
        suggestion: String,
    },
    /// The scheme is not `http`, `https` or `*`.
    #[error(
        "allowed host {entry:?} has unsupported scheme {scheme:?}; use \"http://\", \"https://\" \
         or \"*://\" (either of the two)"
    )]
    UnsupportedScheme {
        /// The entry as written.
        entry: String,
        /// The scheme as written.
        scheme: String,
    },
    /// The entry is a bare `*`.
    #[error(
        "allowed host {entry:?} is ambiguous; write \"*://*:*\" to allow any scheme, host and port"
    )]
    BareStar {
        /// The entry as written.
        entry: String,
    },
    /// The entry is Spin's `insecure:allow-all`.
    #[error(
        "allowed host {entry:?} is not supported; list each allowed host explicitly, \
         e.g. \"https://api.example.com\""
    )]
    AllowAllUnsupported {
        /// The entry as written.
        entry: String,
    },
    /// The entry has `user@` or `user:password@` before the host.
    #[error(
        "allowed host {entry:?} contains userinfo; credentials do not belong in the policy, \
         write it as {suggestion:?}"
    )]
    Userinfo {
        /// The entry as written.
        entry: String,
        /// The entry without its userinfo.
        suggestion: String,
    },
    /// The entry has a path, query or fragment after the authority.
    #[error(
        "allowed host {entry:?} has a {part}; entries name only scheme, host and port, \
         write it as {suggestion:?}"
    )]
    NotAnOrigin {
        /// The entry as written.
        entry: String,
        /// `path`, `query` or `fragment`.
        part: &'static str,
        /// The entry without it.
        suggestion: String,
    },
    /// The host is empty.
    #[error(
        "allowed host {entry:?} has an empty host; write a host name, an IP literal or \"*\", \
         e.g. \"https://api.example.com\""
    )]
    EmptyHost {
        /// The entry as written.
        entry: String,
    },
    /// A `*` appears in the host other than as the whole host or a leading `*.` label.
    #[error(
        "allowed host {entry:?} has a misplaced \"*\" in the host; use \"*\" alone for any host \
         or a leading \"*.\" for any subdomain, e.g. \"https://*.example.com\""
    )]
    MisplacedWildcard {
        /// The entry as written.
        entry: String,
    },
    /// `*.` is followed by something that is not a domain name.
    #[error(
        "allowed host {entry:?} has \"*.\" followed by something other than a domain name; \
         write a domain after it, e.g. \"https://*.example.com\""
    )]
    WildcardSuffixNotDomain {
        /// The entry as written.
        entry: String,
    },
    /// An IPv6 literal is written without brackets.
    #[error(
        "allowed host {entry:?} has an IPv6 address without brackets; enclose it in brackets, \
         e.g. \"http://[::1]:8080\""
    )]
    UnbracketedIpv6 {
        /// The entry as written.
        entry: String,
    },
    /// The host is not a valid DNS name, IPv4 literal or bracketed IPv6 literal.
    #[error(
        "allowed host {entry:?} has an invalid host ({reason}); write a DNS name, an IPv4 \
         address or a bracketed IPv6 address, e.g. \"https://api.example.com\" or \"http://[::1]\""
    )]
    InvalidHost {
        /// The entry as written.
        entry: String,
        /// What is wrong with the host.
        reason: String,
    },
    /// The port is a range such as `8000..8080`.
    #[error(
        "allowed host {entry:?} uses a port range, which is not supported; list each port as \
         its own entry or write \"*\" for any port"
    )]
    PortRange {
        /// The entry as written.
        entry: String,
    },
    /// The port is not a number from 1 to 65535 or `*`.
    #[error(
        "allowed host {entry:?} has invalid port {port:?}; write a number from 1 to 65535, \
         \"*\" for any port, or leave it out for the scheme's default"
    )]
    InvalidPort {
        /// The entry as written.
        entry: String,
        /// The port as written.
        port: String,
    },
}

impl AllowedHost {
    /// Parses one `scheme://host[:port]` entry.
    fn parse(raw: &str) -> Result<Self, PolicyError> {
        let entry = raw.trim();
        let owned = || entry.to_owned();

        if entry.eq_ignore_ascii_case("insecure:allow-all") {
            return Err(PolicyError::AllowAllUnsupported { entry: owned() });
        }
        if entry == "*" {
            return Err(PolicyError::BareStar { entry: owned() });
        }
        let Some((scheme_text, rest)) = entry.split_once("://") else {
            return Err(PolicyError::MissingScheme {
                entry: owned(),
                suggestion: format!("https://{entry}"),
            });
        };
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "*" => SchemeMatch::Any,
            "http" => SchemeMatch::Http,
            "https" => SchemeMatch::Https,
            _ => {
                return Err(PolicyError::UnsupportedScheme {
                    entry: owned(),
                    scheme: scheme_text.to_owned(),
                });
            }
        };

        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);

        if let Some((_, host_port)) = authority.rsplit_once('@') {
            return Err(PolicyError::Userinfo {
                entry: owned(),
                suggestion: format!("{scheme_text}://{host_port}"),
            });
        }
        let after_slash = tail.strip_prefix('/').unwrap_or(tail);
        if !after_slash.is_empty() {
            let suggestion = format!("{scheme_text}://{authority}");
            let part = match after_slash.as_bytes()[0] {
                b'?' => "query",
                b'#' => "fragment",
                _ => "path",
            };
            return Err(PolicyError::NotAnOrigin {
                entry: owned(),
                part,
                suggestion,
            });
        }

        let (host_text, port_text) = split_host_port(entry, authority)?;
        let host = parse_host(entry, host_text)?;
        let port = match port_text {
            None => match scheme {
                SchemeMatch::Any => PortMatch::SchemeDefault,
                SchemeMatch::Http => PortMatch::Exact(80),
                SchemeMatch::Https => PortMatch::Exact(443),
            },
            Some(text) => parse_port(entry, text)?,
        };
        Ok(Self { scheme, host, port })
    }

    /// True when the absolute URL's scheme, host and effective port match this entry.
    #[must_use]
    pub fn allows(&self, url: &Url) -> bool {
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let Some(default_port) = default_port(url.scheme()) else {
            return false;
        };
        let scheme_ok = match self.scheme {
            SchemeMatch::Any => true,
            SchemeMatch::Http => url.scheme() == "http",
            SchemeMatch::Https => url.scheme() == "https",
        };
        let Some(port) = url.port_or_known_default() else {
            return false;
        };
        let port_ok = match self.port {
            PortMatch::Any => true,
            PortMatch::SchemeDefault => port == default_port,
            PortMatch::Exact(expected) => port == expected,
        };
        scheme_ok && port_ok && self.host_matches(url)
    }

    /// True when the URL's host matches this entry's host.
    fn host_matches(&self, url: &Url) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        match (&self.host, host) {
            (HostMatch::Any, _) => true,
            (HostMatch::Domain(expected), Host::Domain(domain)) => {
                normalise_domain(domain) == *expected
            }
            (HostMatch::AnySubdomainOf(suffix), Host::Domain(domain)) => {
                let domain = normalise_domain(domain);
                domain
                    .strip_suffix(suffix.as_str())
                    .and_then(|label| label.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty())
            }
            (HostMatch::Ip(expected), Host::Ipv4(ip)) => *expected == IpAddr::V4(ip),
            (HostMatch::Ip(expected), Host::Ipv6(ip)) => *expected == normalise_ipv6(ip),
            (
                HostMatch::Domain(_) | HostMatch::AnySubdomainOf(_),
                Host::Ipv4(_) | Host::Ipv6(_),
            )
            | (HostMatch::Ip(_), Host::Domain(_)) => false,
        }
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            SchemeMatch::Any => "*",
            SchemeMatch::Http => "http",
            SchemeMatch::Https => "https",
        };
        write!(f, "{scheme}://")?;
        match &self.host {
            HostMatch::Any => f.write_str("*")?,
            HostMatch::AnySubdomainOf(suffix) => write!(f, "*.{suffix}")?,
            HostMatch::Domain(domain) => f.write_str(domain)?,
            HostMatch::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostMatch::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        match (&self.port, &self.scheme) {
            (PortMatch::Any, _) => f.write_str(":*"),
            (PortMatch::Exact(port), _) => write!(f, ":{port}"),
            // Left out, so the entry reads back as "the request scheme's default".
            (PortMatch::SchemeDefault, SchemeMatch::Any) => Ok(()),
            (PortMatch::SchemeDefault, SchemeMatch::Http) => f.write_str(":80"),
            (PortMatch::SchemeDefault, SchemeMatch::Https) => f.write_str(":443"),
        }
    }
}

/// The default port of a scheme a policy can allow, or `None` for any other scheme.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Lowercases a URL domain and strips one trailing dot.
fn normalise_domain(domain: &str) -> String {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    domain.to_ascii_lowercase()
}

/// Turns an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) into its IPv4 address.
fn normalise_ipv6(ip: Ipv6Addr) -> IpAddr {
    match ip.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(ip),
    }
}

/// Normalises an IP address for comparison (see [`normalise_ipv6`]).
fn normalise_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => normalise_ipv6(v6),
    }
}

/// Splits an authority into host text (brackets kept) and optional port text.
fn split_host_port<'a>(
    entry: &str,
    authority: &'a str,
) -> Result<(&'a str, Option<&'a str>), PolicyError> {
    if authority.starts_with('[') {
        let Some(close) = authority.find(']') else {
            return Err(PolicyError::InvalidHost {
                entry: entry.to_owned(),
                reason: "missing \"]\" after the IPv6 address".to_owned(),
            });
        };
        let (host, after) = authority.split_at(close + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(PolicyError::InvalidHost {
                entry: entry.to_owned(),
                reason: format!("unexpected {after:?} after the IPv6 address"),
            }),
        };
    }
    match authority.split_once(':') {
        Some((_, port)) if port.contains(':') => Err(PolicyError::UnbracketedIpv6 {
            entry: entry.to_owned(),
        }),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

/// Parses the host part of an entry, with the same normalisation `url` applies to URL hosts.
fn parse_host(entry: &str, text: &str) -> Result<HostMatch, PolicyError> {
    if text.is_empty() {
        return Err(PolicyError::EmptyHost {
            entry: entry.to_owned(),
        });
    }
    if text == "*" {
        return Ok(HostMatch::Any);
    }
    if let Some(suffix) = text.strip_prefix("*.") {
        if suffix.contains('*') {
            return Err(PolicyError::MisplacedWildcard {
                entry: entry.to_owned(),
            });
        }
        return match parse_concrete_host(entry, suffix) {
            Ok(HostMatch::Domain(domain)) => Ok(HostMatch::AnySubdomainOf(domain)),
            Ok(_) | Err(PolicyError::EmptyHost { .. }) => {
                Err(PolicyError::WildcardSuffixNotDomain {
                    entry: entry.to_owned(),
                })
            }
            Err(error) => Err(error),
        };
    }
    if text.contains('*') {
        return Err(PolicyError::MisplacedWildcard {
            entry: entry.to_owned(),
        });
    }
    parse_concrete_host(entry, text)
}

/// Parses a host without wildcards into a domain or IP match.
fn parse_concrete_host(entry: &str, text: &str) -> Result<HostMatch, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidHost {
        entry: entry.to_owned(),
        reason,
    };
    match Host::parse(text) {
        Ok(Host::Domain(domain)) => {
            let domain = normalise_domain(&domain);
            if domain.is_empty() {
                Err(PolicyError::EmptyHost {
                    entry: entry.to_owned(),
                })
            } else if domain.split('.').any(str::is_empty) {
                Err(invalid("empty label".to_owned()))
            } else {
                Ok(HostMatch::Domain(domain))
            }
        }
        Ok(Host::Ipv4(ip)) => Ok(HostMatch::Ip(IpAddr::V4(ip))),
        Ok(Host::Ipv6(ip)) => Ok(HostMatch::Ip(normalise_ipv6(ip))),
        Err(url::ParseError::EmptyHost) => Err(PolicyError::EmptyHost {
            entry: entry.to_owned(),
        }),
        Err(error) => Err(invalid(error.to_string())),
    }
}

/// Parses the port part of an entry.
fn parse_port(entry: &str, text: &str) -> Result<PortMatch, PolicyError> {
    if text == "*" {
        return Ok(PortMatch::Any);
    }
    if text.contains("..") {
        return Err(PolicyError::PortRange {
            entry: entry.to_owned(),
        });
    }
    let invalid = || PolicyError::InvalidPort {
        entry: entry.to_owned(),
        port: text.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(port) => Ok(PortMatch::Exact(port)),
    }
}

/// `scheme://host:port` of `url`, port spelled out (IPv6 hosts in brackets): the form policy
/// entries take and denials report. Never includes userinfo, path or query.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

#[cfg(test)]
mod tests;

//! Address ranges a component may not reach unless its policy names the exact address.
//!
//! This module owns the list of non-public ranges (loopback, private, link-local, CGNAT,
//! multicast, documentation and other special-purpose blocks of the IANA registries, RFC 6890)
//! and the normalisation that applies first: an IPv4-mapped (`::ffff:a.b.c.d`) or
//! IPv4-compatible (`::a.b.c.d`) IPv6 address is checked as the IPv4 address it carries, so
//! `::ffff:127.0.0.1` is loopback.
//!
//! It leaves to others: whether a policy names an address (`egress::policy`), resolving names
//! and refusing the request (`egress::client` and `egress::hooks`). It performs no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True when `ip` lies in a range no component may reach by default: loopback, private,
/// link-local, unique-local, CGNAT, unspecified, broadcast, multicast, documentation or
/// otherwise reserved. IPv4-mapped and IPv4-compatible IPv6 addresses are checked as IPv4.
#[must_use]
pub fn is_blocked(ip: IpAddr) -> bool {
    match normalise(ip) {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

/// `ip` with an IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible (`::a.b.c.d`) IPv6 address
/// turned into the IPv4 address it carries; other addresses unchanged.
///
/// `::` and `::1` are IPv4-compatible in form and become `0.0.0.0` and `0.0.0.1`, both of
/// which are blocked like the IPv6 unspecified and loopback addresses they came from.
#[must_use]
pub fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        // `to_ipv4` accepts both `::ffff:0:0/96` (mapped) and `::/96` (compatible).
        IpAddr::V6(v6) => v6.to_ipv4().map_or(ip, IpAddr::V4),
    }
}

/// The addresses of `found` that may be connected to: those not blocked, and the blocked ones
/// for which `allowed` (the component policy naming that exact address) says yes.
#[must_use]
pub fn remove_blocked(found: &[IpAddr], allowed: impl Fn(IpAddr) -> bool) -> Vec<IpAddr> {
    found
        .iter()
        .copied()
        .filter(|&ip| !is_blocked(ip) || allowed(ip))
        .collect()
}

/// IPv4 special-purpose ranges that do not lead to the public internet (RFC 6890 and the
/// IANA IPv4 Special-Purpose Address Registry).
const BLOCKED_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8), // "this network", incl. unspecified (RFC 791)
    (Ipv4Addr::new(10, 0, 0, 0), 8), // private (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10), // shared address space, CGNAT (RFC 6598)
    (Ipv4Addr::new(127, 0, 0, 0), 8), // loopback (RFC 1122)
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link-local, incl. cloud metadata (RFC 3927)
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private (RFC 1918)
    (Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments (RFC 6890)
    (Ipv4Addr::new(192, 0, 2, 0), 24), // documentation TEST-NET-1 (RFC 5737)
    (Ipv4Addr::new(192, 88, 99, 0), 24), // deprecated 6to4 relay anycast (RFC 7526)
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private (RFC 1918)
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking (RFC 2544)
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation TEST-NET-2 (RFC 5737)
    (Ipv4Addr::new(203, 0, 113, 0), 24), // documentation TEST-NET-3 (RFC 5737)
    (Ipv4Addr::new(224, 0, 0, 0), 4), // multicast (RFC 5771)
    (Ipv4Addr::new(240, 0, 0, 0), 4), // reserved, incl. broadcast 255.255.255.255 (RFC 1112)
];

/// IPv6 special-purpose ranges that do not lead to the public internet (RFC 6890 and the
/// IANA IPv6 Special-Purpose Address Registry). `::/96` and `::ffff:0:0/96` are handled by
/// [`normalise`] before this table is consulted.
const BLOCKED_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x0064, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64 (RFC 8215)
    (Ipv6Addr::new(0x0100, 0, 0, 0, 0, 0, 0, 0), 64),      // discard-only (RFC 6666)
    (Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0), 32), // documentation (RFC 3849)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),      // documentation (RFC 9637)
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),       // unique-local (RFC 4193)
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),      // link-local (RFC 4291)
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),      // deprecated site-local (RFC 3879)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),       // multicast (RFC 4291)
];

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    let bits = ip.to_bits();
    BLOCKED_V4.iter().any(|&(net, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        bits & mask == net.to_bits()
    })
}

fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    let bits = ip.to_bits();
    let in_table = BLOCKED_V6.iter().any(|&(net, len)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        bits & mask == net.to_bits()
    });
    in_table || embedded_v4(ip).is_some_and(is_blocked_v4)
}

/// The IPv4 address a translating prefix carries: NAT64 `64:ff9b::/96` (RFC 6052) in the
/// last 32 bits, 6to4 `2002::/16` (RFC 3056) in bits 16..48. A gateway would forward to it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = ip.to_bits();
    let nat64 = Ipv6Addr::new(0x0064, 0xff9b, 0, 0, 0, 0, 0, 0).to_bits();
    if bits >> 32 == nat64 >> 32 {
        return Some(Ipv4Addr::from_bits(bits as u32));
    }
    if bits >> 112 == 0x2002 {
        return Some(Ipv4Addr::from_bits((bits >> 80) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("a valid IP address")
    }

    #[test]
    fn blocks_every_non_public_range() {
        let blocked = [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "febf:ffff::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "fec0::1",
            "64:ff9b:1::1",
        ];
        for text in blocked {
            assert!(is_blocked(ip(text)), "{text} should be blocked");
        }
    }

    #[test]
    fn lets_public_addresses_through() {
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "142.250.74.10",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "fe7f:ffff::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for text in public {
            assert!(!is_blocked(ip(text)), "{text} should not be blocked");
        }
    }

    #[test]
    fn checks_ipv4_mapped_and_compatible_ipv6_as_ipv4() {
        assert!(is_blocked(ip("::ffff:127.0.0.1")));
        assert!(is_blocked(ip("::ffff:10.1.2.3")));
        assert!(is_blocked(ip("::ffff:169.254.169.254")));
        assert!(is_blocked(ip("::127.0.0.1")));
        assert!(is_blocked(ip("::192.168.0.1")));
        assert!(!is_blocked(ip("::ffff:8.8.8.8")));
        assert_eq!(normalise(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(normalise(ip("::10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(normalise(ip("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn checks_the_ipv4_address_inside_nat64_and_6to4() {
        assert!(is_blocked(ip("64:ff9b::7f00:1")));
        assert!(is_blocked(ip("64:ff9b::a9fe:a9fe")));
        assert!(is_blocked(ip("2002:7f00:1::1")));
        assert!(is_blocked(ip("2002:c0a8:101::")));
    }

    #[test]
    fn remove_blocked_keeps_public_and_explicitly_allowed_addresses() {
        let found = [ip("127.0.0.1"), ip("8.8.8.8"), ip("10.0.0.1")];
        assert_eq!(remove_blocked(&found, |_| false), [ip("8.8.8.8")]);
        assert_eq!(
            remove_blocked(&found, |a| a == ip("127.0.0.1")),
            [ip("127.0.0.1"), ip("8.8.8.8")]
        );
        assert!(remove_blocked(&[ip("::1")], |_| false).is_empty());
    }
}

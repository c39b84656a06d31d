//! Which URLs Lyceum may fetch from or deliver to: no loopback, private, link-local, CGNAT,
//! metadata or otherwise non-public addresses (SSRF), only `https` on its default port,
//! unless `federation.debug` allows `http`, ports and `localhost` for development.
//!
//! The predicate here is applied to the URL's host and, by the HTTP client, to every
//! address a host name resolves to and to every redirect target.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("only https URLs are federated (http is allowed in federation.debug only)")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("URLs with a user name or password are not federated")]
    Credentials,
    #[error("{0} is not a public address")]
    NonPublicAddress(IpAddr),
    #[error("`{0}` is a local name")]
    LocalName(String),
    #[error("explicit ports are not federated (allowed in federation.debug only)")]
    Port(u16),
}

/// Checks the scheme, credentials and host of a URL before any request is made.
pub fn check_url(url: &Url, debug: bool) -> Result<(), UrlRefusal> {
    match url.scheme() {
        "https" => {}
        "http" if debug => {}
        _ => return Err(UrlRefusal::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    if debug {
        return url.host().map(|_| ()).ok_or(UrlRefusal::NoHost);
    }
    // `Url` drops the scheme's default port, so any port left is another one: an internal
    // service next to a public web server, which nothing federated needs.
    if let Some(port) = url.port() {
        return Err(UrlRefusal::Port(port));
    }
    match url.host().ok_or(UrlRefusal::NoHost)? {
        Host::Ipv4(ip) => check_ip(IpAddr::V4(ip)),
        Host::Ipv6(ip) => check_ip(IpAddr::V6(ip)),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let local = name == "localhost"
                || name.ends_with(".localhost")
                || name.ends_with(".local")
                || name.ends_with(".internal")
                || !name.contains('.');
            if local {
                Err(UrlRefusal::LocalName(name))
            } else {
                Ok(())
            }
        }
    }
}

/// Refuses every address that is not globally routable unicast.
pub fn check_ip(ip: IpAddr) -> Result<(), UrlRefusal> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(UrlRefusal::NonPublicAddress(ip))
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4 addresses carried in IPv6 (mapped, compatible, NAT64) are judged as IPv4.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            if s[..6] == [0, 0, 0, 0, 0, 0] {
                // ::, ::1 and the deprecated IPv4-compatible form.
                return false;
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT.
        || (a == 100 && (64..=127).contains(&b))
        // 192.0.0.0/24: IETF protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15: benchmarking.
        || (a == 198 && (18..=19).contains(&b))
        // 240.0.0.0/4: reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7: unique local.
        || (first & 0xfe00) == 0xfc00
        // fe80::/10: link-local.
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32: documentation.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "[::1]",
            "[::]",
            "[fc00::1]",
            "[fd12:3456::1]",
            "[fe80::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:10.1.2.3]",
            "[64:ff9b::a9fe:a9fe]",
        ] {
            let checked = check_url(&url(&format!("https://{host}/inbox")), false);
            assert!(
                matches!(checked, Err(UrlRefusal::NonPublicAddress(_))),
                "{host}: {checked:?}"
            );
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for u in [
            "https://lemmy.ml/c/rust",
            "https://8.8.8.8/x",
            "https://[2606:4700::1111]/x",
            "https://100.128.0.1/x",
            "https://172.32.0.1/x",
        ] {
            assert_eq!(check_url(&url(u), false), Ok(()), "{u}");
        }
    }

    #[test]
    fn schemes_names_and_credentials_are_checked() {
        assert_eq!(
            check_url(&url("http://lemmy.ml/x"), false),
            Err(UrlRefusal::Scheme)
        );
        assert_eq!(
            check_url(&url("ftp://lemmy.ml/x"), true),
            Err(UrlRefusal::Scheme)
        );
        assert_eq!(
            check_url(&url("https://user:pw@lemmy.ml/x"), false),
            Err(UrlRefusal::Credentials)
        );
        for local in [
            "https://localhost/x",
            "https://db.internal/x",
            "https://printer/x",
            "https://a.localhost/x",
        ] {
            assert!(
                matches!(check_url(&url(local), false), Err(UrlRefusal::LocalName(_))),
                "{local}"
            );
        }
    }

    /// Issue #11 case 14 (the delivery side; fetches are also refused by the library).
    #[test]
    fn case_14_explicit_ports_are_refused_outside_debug() {
        for u in [
            "https://lemmy.ml:8443/inbox",
            "https://lemmy.ml:80/inbox",
            "https://8.8.8.8:22/x",
        ] {
            assert!(
                matches!(check_url(&url(u), false), Err(UrlRefusal::Port(_))),
                "{u}"
            );
        }
        // The default port written out is no other port.
        assert_eq!(check_url(&url("https://lemmy.ml:443/inbox"), false), Ok(()));
        assert_eq!(check_url(&url("http://localhost:8541/inbox"), true), Ok(()));
    }

    #[test]
    fn debug_mode_allows_http_and_localhost() {
        assert_eq!(
            check_url(&url("http://localhost:8541/c/rust"), true),
            Ok(())
        );
        assert_eq!(
            check_url(&url("http://127.0.0.1:8541/c/rust"), true),
            Ok(())
        );
    }
}

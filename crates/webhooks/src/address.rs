//! No requests into the private network (contract §3.11): which addresses an
//! endpoint may not resolve to, and the check of an endpoint's URL that both
//! registration and every delivery make.

use domain::webhooks::Resolver;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the server lets an endpoint be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `http://` URLs too (`WEBHOOK_ALLOW_HTTP`); otherwise only `https://`.
    pub allow_http: bool,
    /// Targets in the private network too (`WEBHOOK_ALLOW_PRIVATE`): for tests
    /// and for a receiver on the same host or network, never on a server
    /// that admins of other parties use.
    pub allow_private: bool,
}

/// Why an IPv4 address is not a public one, if it is not.
fn v4_kind(a: Ipv4Addr) -> Option<&'static str> {
    let [a0, a1, ..] = a.octets();
    Some(match (a0, a1) {
        (0, _) => "unspecified",
        (127, _) => "loopback",
        (10, _) | (192, 168) => "private",
        (172, b) if (16..=31).contains(&b) => "private",
        (169, 254) => "link-local",
        (100, b) if (64..=127).contains(&b) => "shared (carrier-grade NAT)",
        (224..=239, _) => "multicast",
        (240..=255, _) => "reserved",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 one carries, for the forms that reach it:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = a.segments();
    let low = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0, _, _] if !a.is_loopback() && !a.is_unspecified() => Some(low()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

/// Why `ip` may not be a webhook's target (`loopback`, `private`,
/// `link-local`, `unique-local`, `unspecified`, …), or `None` for a public
/// address. IPv6 forms that carry an IPv4 address are judged by it.
///
/// ```
/// use webhooks::address::refusal;
/// assert_eq!(refusal("10.0.0.1".parse().unwrap()), Some("private"));
/// assert_eq!(refusal("::ffff:127.0.0.1".parse().unwrap()), Some("loopback"));
/// assert_eq!(refusal("93.184.215.14".parse().unwrap()), None);
/// ```
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => v4_kind(a),
        IpAddr::V6(a) => {
            if a.is_loopback() {
                return Some("loopback");
            }
            if a.is_unspecified() {
                return Some("unspecified");
            }
            if let Some(v4) = embedded_v4(a) {
                return v4_kind(v4);
            }
            let first = a.segments()[0];
            match first {
                f if f & 0xffc0 == 0xfe80 => Some("link-local"),
                f if f & 0xffc0 == 0xfec0 => Some("site-local"),
                f if f & 0xfe00 == 0xfc00 => Some("unique-local"),
                f if f & 0xff00 == 0xff00 => Some("multicast"),
                _ => None,
            }
        }
    }
}

/// Where a checked URL may be reached: its host and port as the URL names
/// them, and the addresses (each checked) to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as the URL has it (a name, or an IP literal).
    pub host: String,
    /// The port (the scheme's default if the URL names none).
    pub port: u16,
    /// The resolved addresses, each allowed by the policy.
    pub addrs: Vec<SocketAddr>,
}

/// The URL of an endpoint, parsed and held to the policy's rules that need
/// no network: `https://` (or `http://` with `allow_http`), a host, no
/// credentials, no fragment. The message says what is wrong.
pub fn parse_url(text: &str, policy: UrlPolicy) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|_| "must be a valid URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ if policy.allow_http => return Err("must be an https or http URL".into()),
        _ => return Err("must be an https URL".into()),
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

/// The addresses `url` (parsed by [`parse_url`]) reaches, resolved by
/// `resolver`, unless one of them is refused by the policy: a name that
/// resolves to any private address is refused whole (a name that answers
/// with a public and a private address is how DNS rebinding starts). The
/// message says what was refused. `localhost` and names under it are refused
/// without asking (RFC 6761: they are the loopback's).
pub fn resolve(
    url: &url::Url,
    policy: UrlPolicy,
    resolver: &dyn Resolver,
) -> Result<Target, String> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| "must have a port".to_owned())?;
    let (host, literal) = match url.host() {
        Some(url::Host::Domain(name)) => (name.to_owned(), None),
        Some(url::Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
        Some(url::Host::Ipv6(a)) => (format!("[{a}]"), Some(IpAddr::V6(a))),
        None => return Err("must name a host".into()),
    };
    if !policy.allow_private && literal.is_none() {
        let lower = host.trim_end_matches('.').to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") {
            return Err(format!("{host} is the loopback's name"));
        }
    }
    let ips = match literal {
        Some(ip) => vec![ip],
        None => resolver
            .resolve(&host, port)
            .map_err(|e| format!("{host} cannot be resolved ({e})"))?,
    };
    if ips.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if !policy.allow_private
        && let Some((ip, why)) = ips.iter().find_map(|ip| refusal(*ip).map(|w| (ip, w)))
    {
        return Err(if literal.is_some() {
            format!("{ip} is a {why} address: it may not be a webhook's target")
        } else {
            format!("{host} resolves to {ip}, a {why} address: it may not be a webhook's target")
        });
    }
    Ok(Target {
        host,
        port,
        addrs: ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        refusal(s.parse().unwrap())
    }

    #[test]
    fn private_ranges_of_both_families_are_refused_and_public_ones_are_not() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.1.1", "link-local"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::10.1.2.3", "private"),
            ("2002:c0a8:0101::1", "private"),
        ] {
            assert_eq!(kind(ip), Some(why), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    struct Fixed(Vec<IpAddr>);

    impl Resolver for Fixed {
        fn resolve(&self, _: &str, _: u16) -> std::io::Result<Vec<IpAddr>> {
            Ok(self.0.clone())
        }
    }

    const STRICT: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };

    fn check(text: &str, policy: UrlPolicy, resolver: &dyn Resolver) -> Result<Target, String> {
        resolve(&parse_url(text, policy)?, policy, resolver)
    }

    #[test]
    fn urls_are_https_with_a_host_and_no_credentials() {
        let public = Fixed(vec!["93.184.215.14".parse().unwrap()]);
        let t = check("https://hooks.example.com/in", STRICT, &public).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("hooks.example.com", 443));
        assert_eq!(t.addrs, vec!["93.184.215.14:443".parse().unwrap()]);
        for (url, why) in [
            ("http://hooks.example.com/in", "must be an https URL"),
            ("ftp://hooks.example.com/in", "must be an https URL"),
            (
                "https://u:p@hooks.example.com/in",
                "must not carry credentials",
            ),
            ("https://hooks.example.com/in#x", "must not have a fragment"),
            ("not a url", "must be a valid URL"),
        ] {
            assert_eq!(check(url, STRICT, &public).err().as_deref(), Some(why));
        }
        let http = UrlPolicy {
            allow_http: true,
            ..STRICT
        };
        assert_eq!(
            check("http://hooks.example.com:8080/", http, &public).map(|t| t.port),
            Ok(8080)
        );
    }

    #[test]
    fn literals_and_names_that_reach_inside_are_refused_unless_allowed() {
        let inside = Fixed(vec![
            "93.184.215.14".parse().unwrap(),
            "10.1.2.3".parse().unwrap(),
        ]);
        for url in [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost/",
            "https://api.localhost./",
            "https://rebinding.example.com/",
        ] {
            let err = check(url, STRICT, &inside).err();
            assert!(err.is_some(), "{url} was allowed");
        }
        assert_eq!(
            check("https://rebinding.example.com/", STRICT, &inside)
                .err()
                .as_deref(),
            Some(
                "rebinding.example.com resolves to 10.1.2.3, a private address: it may not be a webhook's target"
            )
        );
        let open = UrlPolicy {
            allow_private: true,
            ..STRICT
        };
        assert!(check("https://127.0.0.1:9/", open, &inside).is_ok());
        assert!(
            check(
                "https://localhost/",
                open,
                &Fixed(vec!["127.0.0.1".parse().unwrap()])
            )
            .is_ok()
        );
    }
}

//! Where a node may send a request whose URL someone else chose (a
//! product's callback, an alert's webhook): without these rules it could
//! make the node POST to services that only the node can reach (its own loopback, the private network, cloud
//! metadata on link-local addresses). Internal addresses are refused unless
//! the configuration allows their network (`callback_allow`); the rules are
//! checked when the product registers and again on every address the
//! callback's host resolves to when the node connects, so a name that
//! resolves elsewhere later (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

pub use crate::cidr::Cidr;

/// Networks a callback may not reach unless allowed, and why.
const INTERNAL: [(Cidr, &str); 15] = [
    (Cidr::v4(0, 0, 0, 0, 8), "an unspecified address"),
    (Cidr::v4(10, 0, 0, 0, 8), "a private address"),
    (Cidr::v4(100, 64, 0, 0, 10), "a shared (CGNAT) address"),
    (Cidr::v4(127, 0, 0, 0, 8), "a loopback address"),
    (Cidr::v4(169, 254, 0, 0, 16), "a link-local address"),
    (Cidr::v4(172, 16, 0, 0, 12), "a private address"),
    (Cidr::v4(192, 168, 0, 0, 16), "a private address"),
    (Cidr::v4(224, 0, 0, 0, 4), "a multicast address"),
    (Cidr::v4(240, 0, 0, 0, 4), "a reserved or broadcast address"),
    (
        Cidr {
            net: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            prefix: 128,
        },
        "an unspecified address",
    ),
    (
        Cidr {
            net: IpAddr::V6(Ipv6Addr::LOCALHOST),
            prefix: 128,
        },
        "a loopback address",
    ),
    (Cidr::v6(0xfe80, 10), "a link-local address"),
    (Cidr::v6(0xfc00, 7), "a private (unique local) address"),
    (Cidr::v6(0xff00, 8), "a multicast address"),
    // Deprecated site-local addresses route like private ones.
    (Cidr::v6(0xfec0, 10), "a site-local address"),
];

/// Checks one address a callback would reach; the error says why not.
/// An IPv4 address written in IPv6 (`::ffff:127.0.0.1`) is judged as the
/// IPv4 address it is.
pub fn check_ip(ip: IpAddr, allow: &[Cidr]) -> Result<(), String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if allow.iter().any(|net| net.contains(ip)) {
        return Ok(());
    }
    match INTERNAL.iter().find(|(net, _)| net.contains(ip)) {
        Some((_, why)) => Err(format!("{ip} is {why}")),
        None => Ok(()),
    }
}

/// Checks a callback URL: `http` or `https`, no user name or password, and
/// a host that is not an internal address (names under `localhost` are
/// loopback by definition). Other names are checked when resolved.
pub fn check_url(text: &str, allow: &[Cidr]) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https callbacks are allowed".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a callback URL may not carry a user name or password".into());
    }
    // The URL parser writes every IPv4 spelling (`0x7f000001`, `127.1`)
    // in dotted form and IPv6 in brackets, so what parses here is an
    // address and anything else a name.
    let host = url.host_str().ok_or("the URL has no host")?;
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6.parse().map_err(|_| "invalid IPv6 host".to_string())?;
        return check_ip(IpAddr::V6(ip), allow);
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return check_ip(IpAddr::V4(ip), allow);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST), allow)
            .map_err(|_| format!("{name} is a loopback name"))
    } else {
        Ok(())
    }
}

/// The client for URLs chosen by others: it follows no redirect (one could
/// lead anywhere), resolves through [`Resolver`], and for `https://` trusts
/// the system's roots plus the CA certificates in `ca_cert`.
pub fn client(
    allow: &[Cidr],
    ca_cert: Option<&std::path::Path>,
) -> Result<reqwest::ClientBuilder, anyhow::Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Resolver::new(allow.to_vec())));
    if let Some(path) = ca_cert {
        let pem =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("ca_cert {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| anyhow::anyhow!("ca_cert {}: {e}", path.display()))?;
        if certs.is_empty() {
            anyhow::bail!("ca_cert {}: no certificate in the file", path.display());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// The resolver of the node's callback client: resolves as the system does,
/// then drops every address the rules refuse, and fails when none remain,
/// so the client never connects to an internal address a name led it to.
#[derive(Clone, Debug)]
pub struct Resolver {
    allow: Arc<Vec<Cidr>>,
}

impl Resolver {
    pub fn new(allow: Vec<Cidr>) -> Self {
        Self {
            allow: Arc::new(allow),
        }
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| check_ip(a.ip(), &allow).is_ok())
                .collect();
            if kept.is_empty() {
                tracing::warn!(%host, addresses = ?found, "callback host resolves only to refused addresses");
                return Err(format!("{host} resolves only to internal addresses").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        check_url(url, &[]).is_err()
    }

    #[test]
    fn loopback_in_every_spelling_is_refused() {
        assert!(refused("http://127.0.0.1:4999/internal/x"));
        assert!(refused("http://127.1/"));
        assert!(refused("http://0x7f000001/"));
        assert!(refused("http://2130706433/"));
        assert!(refused("http://[::1]/"));
        assert!(refused("http://[::ffff:127.0.0.1]/"));
        assert!(refused("http://localhost/"));
        assert!(refused("http://LOCALHOST./"));
        assert!(refused("http://api.localhost:8080/"));
    }

    #[test]
    fn internal_networks_are_refused() {
        for url in [
            "http://10.1.2.3/",
            "http://172.20.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::]/",
            "http://[ff02::1]/",
            "http://[::ffff:10.0.0.1]/",
        ] {
            assert!(refused(url), "{url}");
        }
    }

    #[test]
    fn user_info_and_other_schemes_are_refused() {
        assert!(check_url("http://a:b@example.com/", &[])
            .unwrap_err()
            .contains("user name"));
        assert!(refused("http://a@example.com/"));
        assert!(refused("ftp://example.com/"));
        assert!(refused("file:///etc/passwd"));
    }

    #[test]
    fn public_addresses_and_names_pass() {
        assert_eq!(check_url("https://example.com/wake", &[]), Ok(()));
        assert_eq!(check_url("http://203.0.113.5:8080/wake", &[]), Ok(()));
        assert_eq!(check_url("http://[2001:db8::1]/", &[]), Ok(()));
        assert_eq!(check_url("http://8.8.8.8/", &[]), Ok(()));
    }

    #[test]
    fn allowed_networks_open_internal_addresses() {
        let allow: Vec<Cidr> = vec!["127.0.0.0/8".parse().unwrap()];
        assert_eq!(check_url("http://127.0.0.1:4999/", &allow), Ok(()));
        assert_eq!(check_url("http://[::ffff:127.0.0.1]/", &allow), Ok(()));
        assert_eq!(check_url("http://localhost/", &allow), Ok(()));
        assert!(check_url("http://10.0.0.1/", &allow).is_err());
        assert!(check_url("http://[::1]/", &allow).is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_at_connect_time() {
        use reqwest::dns::Resolve;
        let name = |n: &str| <reqwest::dns::Name as std::str::FromStr>::from_str(n).unwrap();
        let strict = Resolver::new(Vec::new());
        assert!(strict.resolve(name("localhost")).await.is_err());
        let open = Resolver::new(vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
        let addrs: Vec<SocketAddr> = open.resolve(name("localhost")).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}

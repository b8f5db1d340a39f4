//! Whether a request came over a secure transport: TLS on this listener, or
//! TLS terminated by a reverse proxy the operator trusts (`--trusted-proxies`)
//! that says so with `X-Forwarded-Proto: https`. The header counts from those
//! addresses only: anyone else could write it.
//!
//! Owns: parsing the trusted addresses and networks (`10.0.0.0/8`,
//! `192.0.2.7`, `fd00::/8`), matching a peer against them (IPv4-mapped IPv6
//! peers as IPv4), and the lab switch `--sse-c-allow-plain-http`, which lets
//! SSE-C keys travel over plain HTTP. What it decides feeds
//! `aws:SecureTransport` and the SSE-C transport check.

use std::net::IpAddr;

/// One trusted address or network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix_len: u8,
}

impl IpRange {
    /// `address` or `address/prefix`; the host bits of a network must be zero.
    pub fn parse(text: &str) -> Result<IpRange, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network (a.b.c.d[/n])"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|len| *len <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        let range = IpRange {
            network,
            prefix_len,
        };
        if !range.contains(network) || range.masked(network) != bits(network) {
            return Err(format!(
                "{text:?}: the address has bits set past the prefix length"
            ));
        }
        Ok(range)
    }

    fn masked(&self, ip: IpAddr) -> u128 {
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.prefix_len);
        if shift >= 128 {
            0
        } else {
            (bits(ip) >> shift) << shift
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmapped(ip);
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.masked(self.network)
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// An IPv4 peer that reached a dual-stack socket shows as `::ffff:a.b.c.d`.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// How the S3 port judges a connection's security.
#[derive(Debug, Clone, Default)]
pub struct TransportSettings {
    /// Peers whose `X-Forwarded-Proto` is believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<IpRange>,
    /// `--sse-c-allow-plain-http`: SSE-C keys accepted over plain HTTP (labs).
    pub sse_c_allow_plain_http: bool,
}

impl TransportSettings {
    /// Whether a request arrived over TLS, here or at a trusted proxy.
    pub fn is_secure(&self, head: &http::RequestHead, tls: bool, peer: IpAddr) -> bool {
        if tls {
            return true;
        }
        if self.trusted_proxies.is_empty() || !self.trusted_proxies.iter().any(|r| r.contains(peer))
        {
            return false;
        }
        // The proxy nearest the client writes first; a chain appends.
        head.header("x-forwarded-proto")
            .and_then(|value| value.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let net = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.200.3.4")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")));
        let one = IpRange::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = IpRange::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_proto_counts_only_from_trusted_proxies() {
        let settings = TransportSettings {
            trusted_proxies: vec![IpRange::parse("127.0.0.1").unwrap()],
            sse_c_allow_plain_http: false,
        };
        let head = |proto: Option<&str>| http::RequestHead {
            method: "PUT".into(),
            target: "/b/k".into(),
            headers: proto
                .map(|p| vec![("x-forwarded-proto".to_owned(), p.to_owned())])
                .unwrap_or_default(),
        };
        assert!(settings.is_secure(&head(Some("https")), false, ip("127.0.0.1")));
        assert!(settings.is_secure(&head(Some("HTTPS, http")), false, ip("127.0.0.1")));
        assert!(!settings.is_secure(&head(Some("http")), false, ip("127.0.0.1")));
        assert!(!settings.is_secure(&head(None), false, ip("127.0.0.1")));
        assert!(!settings.is_secure(&head(Some("https")), false, ip("127.0.0.2")));
        assert!(settings.is_secure(&head(None), true, ip("203.0.113.9")));
        assert!(!TransportSettings::default().is_secure(
            &head(Some("https")),
            false,
            ip("127.0.0.1")
        ));
    }
}

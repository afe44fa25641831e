//! Who a request comes from: the peer's address, or — behind a trusted reverse proxy — the
//! client that the proxy names in `X-Forwarded-For`.

use axum::extract::{ConnectInfo, Request};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// An IP network: an address and how many of its leading bits must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `::1` or `192.168.1.7` (a single address).
    pub fn parse(s: &str) -> Option<Network> {
        let (address, prefix) = match s.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                leading_bits_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                leading_bits_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn leading_bits_match(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xFFu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let single = if self.address.is_ipv4() { 32 } else { 128 };
        if self.prefix == single {
            write!(f, "{}", self.address)
        } else {
            write!(f, "{}/{}", self.address, self.prefix)
        }
    }
}

/// A list of networks separated by commas or spaces; `None` if any entry is not one.
pub fn parse_networks(list: &str) -> Option<Vec<Network>> {
    list.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Network::parse)
        .collect()
}

/// The address of the connection a request came on (set by the connection loop).
pub fn peer_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| {
            c.0.ip().to_canonical()
        })
}

/// The client's address. When the connection comes from a trusted proxy, the rightmost
/// address of `X-Forwarded-For` that is not itself a trusted proxy: proxies append the
/// address they saw, so anything further left may be the client's own invention.
pub fn client_ip(request: &Request, trusted: &[Network]) -> IpAddr {
    let peer = peer_ip(request);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .map_while(|s| s.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}

/// Whether a URL's host is this machine or a private network, out of an internet service's reach.
pub fn is_private_address(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00
        }
        Err(_) => {
            host.eq_ignore_ascii_case("localhost")
                || host.ends_with(".local")
                || host.ends_with(".localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        for url in [
            "http://localhost:8080",
            "http://127.0.0.1",
            "https://192.168.1.20/x",
            "http://10.0.0.5:80",
            "http://[::1]:8080",
            "http://[fd00::1]",
            "http://booth.local",
        ] {
            assert!(is_private_address(url), "{url}");
        }
        for url in [
            "https://booth.example.com",
            "http://203.0.113.7:8080",
            "https://[2001:db8::1]",
        ] {
            assert!(!is_private_address(url), "{url}");
        }
    }

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = axum::http::Request::builder();
        if let Some(f) = forwarded {
            builder = builder.header("x-forwarded-for", f);
        }
        let mut request = builder.body(axum::body::Body::empty()).unwrap();
        let addr: SocketAddr = format!("{peer}:1234").parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    }

    #[test]
    fn networks_match_their_prefix() {
        let net = Network::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(
            Network::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        let narrow = Network::parse("192.168.1.128/25").unwrap();
        assert!(narrow.contains("192.168.1.200".parse().unwrap()));
        assert!(!narrow.contains("192.168.1.100".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(parse_networks("10.0.0.1, nonsense").is_none());
        assert_eq!(parse_networks(" ").unwrap(), vec![]);
    }

    #[test]
    fn forwarded_address_counts_only_behind_a_trusted_proxy() {
        let trusted = parse_networks("127.0.0.1, 10.0.0.0/8").unwrap();
        let via_proxy = request("127.0.0.1", Some("1.2.3.4, 10.0.0.5"));
        assert_eq!(
            client_ip(&via_proxy, &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        let spoofed = request("5.6.7.8", Some("1.2.3.4"));
        assert_eq!(
            client_ip(&spoofed, &trusted),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
        let no_header = request("127.0.0.1", None);
        assert_eq!(
            client_ip(&no_header, &trusted),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        // A client's own invented entries lie left of the one its proxy appended.
        let invented = request("127.0.0.1", Some("9.9.9.9, 2.2.2.2"));
        assert_eq!(
            client_ip(&invented, &trusted),
            "2.2.2.2".parse::<IpAddr>().unwrap()
        );
    }
}

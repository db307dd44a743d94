//! `host:port` endpoints as operators type them and failover managers pass them.
//!
//! One type, [`HostPort`], parsed from `HOST:PORT` (IPv6 as `[::1]:6379`) or from a host and a
//! port given as two positional arguments (mysqlfailover, Sentinel). Parsing is strict: an empty
//! host, a port that is not a decimal number in 1..=65535, or stray whitespace is an error that
//! quotes what was given, so bad input never reaches Consul.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why a `host:port` could not be parsed. Each message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("empty host in {0:?}")]
    EmptyHost(String),
    #[error("missing port in {0:?} (expected HOST:PORT)")]
    MissingPort(String),
    #[error("invalid port {0:?} (expected a number from 1 to 65535)")]
    BadPort(String),
    #[error("invalid host {0:?}")]
    BadHost(String),
}

/// A network endpoint: a host name or IP address and a TCP port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Builds an endpoint from a host and a port given as separate strings, as hooks receive them.
    pub fn from_parts(host: &str, port: &str) -> Result<Self, AddrError> {
        let host = parse_host(host)?;
        let port = parse_port(port)?;
        Ok(HostPort { host, port })
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// True when the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        match self.ip() {
            Some(ip) => ip.is_loopback(),
            None => self.host.eq_ignore_ascii_case("localhost"),
        }
    }
}

/// Parses a port: decimal digits only, 1..=65535.
pub fn parse_port(port: &str) -> Result<u16, AddrError> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::BadPort(port.to_string()));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(AddrError::BadPort(port.to_string())),
        Ok(p) => Ok(p),
    }
}

fn parse_host(host: &str) -> Result<String, AddrError> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if bare.is_empty() {
        return Err(AddrError::EmptyHost(host.to_string()));
    }
    let valid = bare.parse::<IpAddr>().is_ok()
        || bare
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if !valid || bare.len() > 253 {
        return Err(AddrError::BadHost(host.to_string()));
    }
    Ok(bare.to_string())
}

impl FromStr for HostPort {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or_else(|| AddrError::MissingPort(s.to_string()))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(AddrError::BadHost(s.to_string()));
            }
            return Ok(HostPort { host: host.to_string(), port: parse_port(port)? });
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(|| AddrError::MissingPort(s.to_string()))?;
        if host.contains(':') {
            // An IPv6 address without brackets is ambiguous about where the port starts.
            return Err(AddrError::BadHost(s.to_string()));
        }
        if host.is_empty() {
            return Err(AddrError::EmptyHost(s.to_string()));
        }
        Ok(HostPort { host: parse_host(host)?, port: parse_port(port)? })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Written and read as `HOST:PORT` (`[v6]:PORT`), as on a command line: config files,
/// `--print-config` and the layering of settings use the same text.
impl serde::Serialize for HostPort {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HostPort {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_and_names() {
        let hp: HostPort = "10.0.0.12:6379".parse().unwrap();
        assert_eq!(hp, HostPort { host: "10.0.0.12".into(), port: 6379 });
        assert_eq!("db-1.example:3306".parse::<HostPort>().unwrap().host, "db-1.example");
    }

    #[test]
    fn parses_bracketed_ipv6_and_displays_it_back() {
        let hp: HostPort = "[::1]:6379".parse().unwrap();
        assert_eq!(hp.host, "::1");
        assert!(hp.is_loopback());
        assert_eq!(hp.to_string(), "[::1]:6379");
    }

    #[test]
    fn rejects_bad_ports() {
        for bad in ["h:0", "h:65536", "h:-1", "h:+1", "h:12a", "h: 1", "h:"] {
            assert!(matches!(bad.parse::<HostPort>(), Err(AddrError::BadPort(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_missing_or_bad_hosts() {
        assert!(matches!(":6379".parse::<HostPort>(), Err(AddrError::EmptyHost(_))));
        assert!(matches!("6379".parse::<HostPort>(), Err(AddrError::MissingPort(_))));
        assert!(matches!("::1:6379".parse::<HostPort>(), Err(AddrError::BadHost(_))));
        assert!(matches!("a b:1".parse::<HostPort>(), Err(AddrError::BadHost(_))));
        assert!(HostPort::from_parts("", "1").is_err());
        assert!(HostPort::from_parts("UNKNOWN", "UNKNOWN").is_err());
    }

    #[test]
    fn from_parts_matches_parse() {
        assert_eq!(HostPort::from_parts("127.0.0.1", "3306").unwrap(), "127.0.0.1:3306".parse().unwrap());
    }
}

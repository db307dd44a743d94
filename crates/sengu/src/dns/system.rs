//! Endpoints given by host name (a Redis, a sentinel, a MySQL server, an old master) resolved
//! the way every program on the host resolves them, through the C library's `getaddrinfo`
//! (`nsswitch.conf`, `/etc/hosts`, DNS), but within a time limit: a hung resolver must end a
//! check or a hook inside its budget, not after glibc's own 5 s × attempts.
//!
//! `getaddrinfo` cannot be cancelled, so it runs on a thread of its own and the caller stops
//! waiting at the limit. A thread left blocked there ends with the process (every sengu
//! executable is a short run), or when the resolver finally answers.
//!
//! [`lookup`] is the same call for [`super::Source::System`]: all addresses of a name, in the
//! host's real resolution order (`hosts:` in nsswitch.conf), so a check sees what the
//! applications on its host see.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use super::{DnsError, Family, Source};
use crate::addr::HostPort;

/// Why an endpoint's host name gave no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The resolver did not answer within the limit.
    #[error("its name {host:?} did not resolve within {}", crate::human::duration(*after))]
    Timeout { host: String, after: Duration },
    /// The resolver answered that the name does not exist, or failed.
    #[error("its name {host:?} does not resolve: {reason}")]
    Failed { host: String, reason: String },
}

/// The socket addresses of `addr`, in the resolver's order. An IP address is returned at once;
/// a host name is asked of the system resolver, waiting at most `timeout`.
pub fn resolve(addr: &HostPort, timeout: Duration) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Some(ip) = addr.ip() {
        return Ok(vec![SocketAddr::new(ip, addr.port)]);
    }
    let failed = |reason: String| ResolveError::Failed { host: addr.host.clone(), reason };
    match getaddrinfo(&addr.host, addr.port, timeout) {
        Answer::Found(found) if !found.is_empty() => Ok(found),
        Answer::Found(_) => Err(failed("no address".into())),
        Answer::Failed(e) => Err(failed(e.to_string())),
        Answer::NoThread(e) => Err(failed(format!("cannot start the resolver thread: {e}"))),
        Answer::Timeout => Err(ResolveError::Timeout { host: addr.host.clone(), after: timeout }),
    }
}

/// The addresses of `name` of `family` (deduplicated, sorted) from the C library's resolver,
/// waiting at most `limit`. glibc reports its outcome only as a message (Rust's standard
/// library keeps no `EAI_*` code), so the message decides the class: "Name or service not
/// known" is NXDOMAIN (every source said no), "No address associated with hostname" an empty
/// answer, anything else ("Temporary failure in name resolution": a timeout, SERVFAIL or no
/// server) a failure to get an answer. Rust programs never call `setlocale`, so glibc's
/// messages stay in English.
pub fn lookup(name: &str, family: Family, limit: Duration) -> Result<Vec<IpAddr>, DnsError> {
    let (name_owned, source) = (name.to_string(), Source::System);
    let nx = || DnsError::NxDomain { name: name_owned.clone(), server: source.clone() };
    let found = match getaddrinfo(name, 0, limit) {
        Answer::Found(found) => found,
        Answer::Timeout => return Err(DnsError::Timeout { name: name_owned.clone(), server: source, after: limit }),
        Answer::NoThread(e) => return Err(DnsError::Config(format!("cannot start the resolver thread: {e}"))),
        Answer::Failed(e) => {
            let text = e.to_string();
            return Err(if text.contains("Name or service not known") {
                nx()
            } else if text.contains("No address associated with hostname") {
                DnsError::NoRecords { name: name_owned.clone(), family: family_label(family), server: source }
            } else {
                DnsError::Unreachable { server: source, detail: text }
            });
        }
    };
    let mut addrs: Vec<IpAddr> = found
        .iter()
        .map(SocketAddr::ip)
        .filter(|ip| match family {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
            Family::Both => true,
        })
        .collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(DnsError::NoRecords { name: name_owned.clone(), family: family_label(family), server: source });
    }
    Ok(addrs)
}

fn family_label(family: Family) -> &'static str {
    match family {
        Family::V4 => "A",
        Family::V6 => "AAAA",
        Family::Both => "A or AAAA",
    }
}

/// What one bounded `getaddrinfo` gave.
enum Answer {
    Found(Vec<SocketAddr>),
    Failed(std::io::Error),
    NoThread(std::io::Error),
    Timeout,
}

/// `getaddrinfo(host, port)` on a thread of its own, waited for at most `limit`.
fn getaddrinfo(host: &str, port: u16, limit: Duration) -> Answer {
    let host = host.to_string();
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("resolve".into()).spawn(move || {
        let answer = (host.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>);
        // The caller may have stopped waiting; nobody is left to tell.
        let _ = tx.send(answer);
    });
    if let Err(e) = spawned {
        return Answer::NoThread(e);
    }
    match rx.recv_timeout(limit) {
        Ok(Ok(found)) => Answer::Found(found),
        Ok(Err(e)) => Answer::Failed(e),
        Err(_) => Answer::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_needs_no_resolver() {
        let addr: HostPort = "127.0.0.12:6379".parse().unwrap();
        assert_eq!(resolve(&addr, Duration::ZERO).unwrap(), vec!["127.0.0.12:6379".parse().unwrap()]);
        let v6: HostPort = "[::1]:6379".parse().unwrap();
        assert_eq!(resolve(&v6, Duration::ZERO).unwrap(), vec!["[::1]:6379".parse().unwrap()]);
    }

    #[test]
    fn lookup_returns_the_asked_family_only() {
        let v4 = lookup("localhost", Family::V4, Duration::from_secs(2)).unwrap();
        assert_eq!(v4, vec![IpAddr::from([127, 0, 0, 1])]);
    }

    #[test]
    fn localhost_comes_from_the_hosts_file() {
        let addr: HostPort = "localhost:6379".parse().unwrap();
        let found = resolve(&addr, Duration::from_secs(2)).unwrap();
        assert!(found.iter().all(|a| a.ip().is_loopback() && a.port() == 6379), "{found:?}");
    }
}

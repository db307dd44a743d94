//! Endpoints given by host name (a Redis, a sentinel, a MySQL server, an old master) resolved
//! the way every program on the host resolves them, through the C library's `getaddrinfo`
//! (`nsswitch.conf`, `/etc/hosts`, DNS), but within a time limit: a hung resolver must end a
//! check or a hook inside its budget, not after glibc's own 5 s × attempts.
//!
//! `getaddrinfo` cannot be cancelled, so it runs on a thread of its own and the caller stops
//! waiting at the limit. A thread left blocked there ends with the process (every sengu
//! executable is a short run), or when the resolver finally answers.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

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
    let (host, port) = (addr.host.clone(), addr.port);
    let failed = |reason: String| ResolveError::Failed { host: addr.host.clone(), reason };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let answer = (host.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>);
            // The caller may have stopped waiting; nobody is left to tell.
            let _ = tx.send(answer);
        })
        .map_err(|e| failed(format!("cannot start the resolver thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(found)) if !found.is_empty() => Ok(found),
        Ok(Ok(_)) => Err(failed("no address".into())),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(ResolveError::Timeout { host: addr.host.clone(), after: timeout }),
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
    fn localhost_comes_from_the_hosts_file() {
        let addr: HostPort = "localhost:6379".parse().unwrap();
        let found = resolve(&addr, Duration::from_secs(2)).unwrap();
        assert!(found.iter().all(|a| a.ip().is_loopback() && a.port() == 6379), "{found:?}");
    }
}

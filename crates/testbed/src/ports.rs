//! Hosts and ports for test processes.
//!
//! A host is a loopback address 127.0.0.N (Linux routes all of 127/8 to `lo`). Ports come from a
//! fixed range below the kernel's ephemeral range (32768–60999 here), never from binding port 0:
//! a port handed out by the kernel can be taken by another program's outgoing connection before
//! the server binds it. Each port is reserved across every test process by holding an exclusive
//! lock on a file named after it; the reservation ends when the [`PortLease`] is dropped.

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// First and last port (inclusive) that the testbed hands out.
pub const PORT_RANGE: (u16, u16) = (20000, 32000);

/// The loopback address that stands for host number `n` (e.g. `host(11)` is 127.0.0.11).
pub fn host(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A port reserved for this test process until dropped.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    _lock: File,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("sengu-testbed-ports")
}

/// Reserves a port that is free for TCP and UDP on `ip` and not reserved by any other test
/// process. Panics if none is found after scanning the whole range.
pub fn reserve(ip: IpAddr) -> PortLease {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = lock_dir();
    fs::create_dir_all(&dir).expect("create port lock dir");
    let span = u32::from(PORT_RANGE.1 - PORT_RANGE.0) + 1;
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0))
        .wrapping_add(COUNTER.fetch_add(7919, Ordering::Relaxed));
    for i in 0..span {
        let port = PORT_RANGE.0 + ((seed.wrapping_add(i)) % span) as u16;
        let path = dir.join(format!("{port}.lock"));
        let Ok(file) = File::options().create(true).truncate(false).write(true).open(&path) else { continue };
        if file.try_lock().is_err() {
            continue;
        }
        // A partition-lab host is a fresh namespace the caller cannot bind in: the lock is all.
        if crate::netlab::namespace_of(ip).is_some() {
            return PortLease { port, _lock: file };
        }
        // Somebody outside the testbed may hold it; check both protocols on this address.
        let tcp_free = TcpListener::bind((ip, port)).is_ok();
        let udp_free = UdpSocket::bind((ip, port)).is_ok();
        if tcp_free && udp_free {
            return PortLease { port, _lock: file };
        }
    }
    panic!("no free port in {}..={} on {ip}", PORT_RANGE.0, PORT_RANGE.1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_while_held_and_in_range() {
        let a = reserve(host(11));
        let b = reserve(host(11));
        assert_ne!(a.port(), b.port());
        for p in [a.port(), b.port()] {
            assert!((PORT_RANGE.0..=PORT_RANGE.1).contains(&p));
        }
    }

    #[test]
    fn a_held_lease_cannot_be_locked_again() {
        let a = reserve(host(12));
        let f = File::options().write(true).open(lock_dir().join(format!("{}.lock", a.port()))).unwrap();
        assert!(f.try_lock().is_err());
        drop(a);
        assert!(f.try_lock().is_ok());
    }
}

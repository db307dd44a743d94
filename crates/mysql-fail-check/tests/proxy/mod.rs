//! A TCP proxy the test controls, standing for the network path between the monitor and the
//! master: it forwards to the master until told to black-hole, after which it accepts new
//! connections and never answers (what a dropped route or a hung middlebox looks like to the
//! monitor), while the replicas keep their direct connections to the master.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use testbed::ports::{reserve, PortLease};

pub struct Proxy {
    addr: SocketAddr,
    blackhole: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Connections accepted while black-holing, held open (unanswered) until the proxy drops.
    held: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
    _lease: PortLease,
}

impl Proxy {
    /// Listens on a reserved port of `ip` and forwards every connection to `upstream`.
    pub fn start(ip: std::net::IpAddr, upstream: SocketAddr) -> Proxy {
        let lease = reserve(ip);
        let addr = SocketAddr::new(ip, lease.port());
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (blackhole, stop, held) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let accept = {
            let (blackhole, stop, held) = (blackhole.clone(), stop.clone(), held.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) if blackhole.load(Ordering::Relaxed) => held.lock().unwrap().push(client),
                        Ok((client, _)) => forward(client, upstream),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Proxy { addr, blackhole, stop, held, accept: Some(accept), _lease: lease }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on, new connections are accepted and never answered.
    pub fn blackhole(&self) {
        self.blackhole.store(true, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Copies both ways until either side closes; then closes the other.
fn forward(client: TcpStream, upstream: SocketAddr) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else { return };
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    };
    if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
        pipe(client, s2);
        pipe(server, c2);
    }
}

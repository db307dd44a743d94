//! A hung system resolver for one command: a private mount namespace (`unshare --mount`) in
//! which `/etc/resolv.conf` names a loopback address whose port 53 takes UDP queries and TCP
//! connections and never answers. Only the command's view of that one file changes; it still
//! reaches the testbed's servers on the shared loopback. Nothing is sent anywhere else: the
//! machine's own name server is out of the command's sight.
//!
//! The address is the first free `127.53.0.x`: binding its port 53 is the reservation, held
//! while the [`HungResolver`] lives. The namespace dies with the command; the temp dir and the
//! sockets go on drop.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;

/// glibc's defaults, written out: 5 s per try, 2 tries, the 10 s a hung resolver costs.
const OPTIONS: &str = "options timeout:5 attempts:2";

/// Runs `mount --bind <file> /etc/resolv.conf`, then the command. No input reaches the script
/// text: the paths and the command are its positional arguments.
const SCRIPT: &str = "mount --bind \"$1\" /etc/resolv.conf && shift && exec \"$@\"";

pub struct HungResolver {
    ip: Ipv4Addr,
    _udp: UdpSocket,
    _tcp: TcpListener,
    dir: tempfile::TempDir,
}

impl HungResolver {
    /// Binds port 53 (UDP and TCP) on the first free `127.53.0.x` and writes a resolv.conf
    /// naming it. Needs root, as every namespace test does.
    pub fn start() -> HungResolver {
        for last in 1..=254 {
            let ip = Ipv4Addr::new(127, 53, 0, last);
            let Ok(udp) = UdpSocket::bind((ip, 53)) else { continue };
            let Ok(tcp) = TcpListener::bind((ip, 53)) else { continue };
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::write(dir.path().join("resolv.conf"), format!("nameserver {ip}\n{OPTIONS}\n")).expect("write resolv.conf");
            return HungResolver { ip, _udp: udp, _tcp: tcp, dir };
        }
        panic!("no free 127.53.0.x:53 for a hung resolver");
    }

    /// The resolver's address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The resolv.conf that names it.
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.path().join("resolv.conf")
    }

    /// The argv (program first) that runs `program args…` with this resolver as its system
    /// resolver.
    pub fn wrap(&self, program: &str, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", SCRIPT, "sh"].map(String::from).to_vec();
        argv.push(self.resolv_conf().display().to_string());
        argv.push(program.to_string());
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }
}

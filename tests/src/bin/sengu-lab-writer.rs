//! A client of the partition lab: appends a unique sequence number (`RPUSH <key> <n>`) every
//! interval, as an application on one host would, and prints one line per attempt on stdout:
//! `<unix time in µs> ack <n> <ip:port>` or `<unix time in µs> fail <n> <reason>`.
//!
//! It writes to a fixed address (`--addr`, a client configured with its local master) or to
//! whatever a DNS name resolves to (`--dns-name`, `--dns-server`, `--port IP=PORT` per server), like the drill's
//! writer: it keeps its connection while writes succeed, and after any failure reconnects to
//! what the name resolves to then. A failed or timed-out write is never retried. It runs
//! until its stdin closes (the lab runs it in a host's network namespace with `nsenter`).
//!
//! With `--wait-replicas N`, a write counts as acknowledged only once `WAIT N <timeout>` says N
//! replicas have it, as a client that must not lose a write does; fewer is a failure (the
//! write may still be on the master, or be lost with it).
//!
//! Usage: `sengu-lab-writer --key K (--addr IP:PORT | --dns-name N --dns-server IP:PORT --port IP=PORT…)
//!         [--interval-ms 10] [--timeout-ms 250] [--wait-replicas N]`

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Args {
    key: String,
    addr: Option<SocketAddr>,
    dns_name: Option<String>,
    dns_server: Option<SocketAddr>,
    ports: Vec<(std::net::IpAddr, u16)>,
    interval: Duration,
    timeout: Duration,
    wait_replicas: Option<i64>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args { key: String::new(), addr: None, dns_name: None, dns_server: None, ports: Vec::new(), interval: Duration::from_millis(10), timeout: Duration::from_millis(250), wait_replicas: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let ms = || value.parse::<u64>().map(Duration::from_millis).map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--key" => a.key = value.clone(),
            "--addr" => a.addr = Some(value.parse().map_err(|e| format!("--addr: {e}"))?),
            "--dns-name" => a.dns_name = Some(value.clone()),
            "--dns-server" => a.dns_server = Some(value.parse().map_err(|e| format!("--dns-server: {e}"))?),
            "--port" => {
                let (ip, port) = value.split_once('=').ok_or("--port takes IP=PORT")?;
                a.ports.push((ip.parse().map_err(|e| format!("--port: {e}"))?, port.parse().map_err(|e| format!("--port: {e}"))?));
            }
            "--interval-ms" => a.interval = ms()?,
            "--timeout-ms" => a.timeout = ms()?,
            "--wait-replicas" => a.wait_replicas = Some(value.parse().map_err(|e| format!("--wait-replicas: {e}"))?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.key.is_empty() || (a.addr.is_none() && (a.dns_name.is_none() || a.dns_server.is_none() || a.ports.is_empty())) {
        return Err("give --key and either --addr or --dns-name, --dns-server and --port".into());
    }
    Ok(a)
}

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

fn target(a: &Args) -> Result<SocketAddr, String> {
    if let Some(addr) = a.addr {
        return Ok(addr);
    }
    let (name, server) = (a.dns_name.as_deref().unwrap_or_default(), a.dns_server.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 53))));
    let options = sengu::dns::Options { timeout: a.timeout, attempts: 1, transport: sengu::dns::Transport::Tcp };
    let ips = sengu::dns::lookup(name, sengu::dns::Family::V4, &sengu::dns::Source::Server(server), &options).map_err(|e| format!("dns: {e}"))?;
    let ip = ips.first().ok_or("dns: no address")?;
    a.ports.iter().find(|(i, _)| i == ip).map(|(_, p)| SocketAddr::new(*ip, *p)).ok_or_else(|| format!("dns: {ip} is no known server"))
}

fn connect(addr: SocketAddr, timeout: Duration) -> Result<redis::Connection, String> {
    let info = redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()), redis: redis::RedisConnectionInfo::default() };
    let client = redis::Client::open(info).map_err(|e| e.to_string())?;
    let con = client.get_connection_with_timeout(timeout).map_err(|e| format!("connect: {e}"))?;
    con.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    con.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    Ok(con)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sengu-lab-writer: {e}");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
            stop.store(true, Ordering::Relaxed);
        });
    }
    let mut out = std::io::stdout().lock();
    let mut con: Option<(redis::Connection, SocketAddr)> = None;
    let mut seq: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let tick = std::time::Instant::now();
        seq += 1;
        if con.is_none() {
            con = target(&args).and_then(|addr| connect(addr, args.timeout).map(|c| (c, addr))).map_err(|e| {
                let _ = writeln!(out, "{} fail {seq} {e}", now_us());
            }).ok();
        }
        if let Some((c, addr)) = con.as_mut() {
            let addr = *addr;
            let written = redis::cmd("RPUSH").arg(&args.key).arg(seq).query::<i64>(c).and_then(|_| match args.wait_replicas {
                // WAIT's own timeout ends before the connection's read timeout.
                Some(n) => redis::cmd("WAIT").arg(n).arg(args.timeout.as_millis() / 2).query::<i64>(c).and_then(|k| {
                    if k >= n { Ok(()) } else { Err(redis::RedisError::from((redis::ErrorKind::ResponseError, "WAIT", format!("{k} of {n} replicas have it")))) }
                }),
                None => Ok(()),
            });
            match written {
                Ok(()) => {
                    let _ = writeln!(out, "{} ack {seq} {addr}", now_us());
                }
                Err(e) => {
                    let _ = writeln!(out, "{} fail {seq} {}", now_us(), e.to_string().replace('\n', " "));
                    con = None;
                }
            }
        }
        let _ = out.flush();
        std::thread::sleep(args.interval.saturating_sub(tick.elapsed()));
    }
}

//! Real Redis processes for tests: single servers ([`RedisServer`]), sentinels ([`Sentinel`]) and
//! whole master + replicas + sentinels topologies ([`RedisSet`]), each process on its own
//! loopback host address, in its own temp dir, with persistence off.
//!
//! - [`server`]: `redis-server` with auth, replication, and fault helpers (kill -9, SIGSTOP,
//!   `DEBUG SLEEP`, `CLIENT PAUSE`, restart on the same port).
//! - [`sentinel`]: `redis-sentinel` from a freshly written, writable config (fixed `myid`,
//!   `client-reconfig-script`, announce-ip), plus its `SENTINEL …` views.
//! - `instance` (private): the process lifetime both share: spawn from a config file in a temp
//!   dir, wait for readiness, faults, restart.
//! - [`set`]: a topology that is only handed out once `ROLE` and every sentinel confirm it.
//!
//! `SENGU_REDIS_SERVER` and `SENGU_REDIS_SENTINEL` override the binaries.

mod instance;
pub mod sentinel;
pub mod server;
pub mod set;

pub use sentinel::{Sentinel, SentinelBuilder};
pub use server::{RedisServer, RedisServerBuilder, Role, RoleReplica};
pub use set::{RedisSet, RedisSetBuilder};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How long a process gets to answer after it was (re)started. Generous because two cores may
/// be busy with other test binaries.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Read/write timeout of every connection the testbed opens, so a frozen process fails a test
/// instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Timeout of the short probes used while polling for readiness.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_millis(1000);

/// The `redis-server` binary: `SENGU_REDIS_SERVER`, else `redis-server` from `PATH`.
pub fn server_bin() -> PathBuf {
    std::env::var_os("SENGU_REDIS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// The program and the arguments after the config file path that start a server: just
/// [`server_bin`].
pub(crate) fn server_command() -> (PathBuf, Vec<&'static str>) {
    (server_bin(), Vec::new())
}

/// The program and leading arguments that start a sentinel: `SENGU_REDIS_SENTINEL` (with
/// `--sentinel` added when it names a `redis-server`), else `redis-sentinel` from `PATH`, else the
/// server binary with `--sentinel`. The config file path goes between program and these arguments.
pub(crate) fn sentinel_command() -> (PathBuf, Vec<&'static str>) {
    if let Some(bin) = std::env::var_os("SENGU_REDIS_SENTINEL").map(PathBuf::from) {
        let is_server = bin.file_name().is_some_and(|n| n.to_string_lossy().contains("redis-server"));
        return (bin, if is_server { vec!["--sentinel"] } else { vec![] });
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("redis-sentinel").is_file()));
    if on_path { (PathBuf::from("redis-sentinel"), vec![]) } else { (server_bin(), vec!["--sentinel"]) }
}

/// Quotes a config-file argument the way Redis's `sdssplitargs` reads it back, so passwords and
/// paths with spaces or quotes survive.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Connection parameters for `addr` with optional ACL user and password.
pub(crate) fn connection_info(addr: SocketAddr, username: Option<&str>, password: Option<&str>) -> redis::ConnectionInfo {
    redis::ConnectionInfo {
        addr: redis::ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()),
        redis: redis::RedisConnectionInfo {
            username: username.map(str::to_owned),
            password: password.map(str::to_owned),
            ..Default::default()
        },
    }
}

/// Opens a connection whose connect, read and write all time out after `timeout`.
pub fn connect(info: &redis::ConnectionInfo, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let con = redis::Client::open(info.clone())?.get_connection_with_timeout(timeout)?;
    con.set_read_timeout(Some(timeout))?;
    con.set_write_timeout(Some(timeout))?;
    Ok(con)
}

/// Environment variables a developer may have set that must not leak into processes the tests
/// start (and from there into sentinel scripts): the tests set what they need explicitly.
pub(crate) fn leaky_env_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            k.starts_with("SENGU_") || k.starts_with("CONSUL_HTTP_") || k == "REDISCLI_AUTH"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_quotes_backslashes_and_control_bytes() {
        assert_eq!(quote(r#"a b"c\d"#), r#""a b\"c\\d""#);
        assert_eq!(quote("x\ny"), r#""x\x0ay""#);
    }
}

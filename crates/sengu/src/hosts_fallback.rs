//! consul-hosts-fallback: names that still resolve while the local Consul agent (or the
//! dnsmasq in front of it) cannot answer, and that never shadow a live answer.
//!
//! The layout (docs/consul-hosts-fallback.md, examples/consul-hosts-fallback/) keeps
//! `hosts: files dns` and a dnsmasq with `no-hosts` that forwards `consul.` to the agent. Each
//! pass of this program:
//!
//! 1. reads the masters (and, when asked, the replicas) from Consul's health API, passing
//!    instances only, and keeps them in the state file by the rules of [`entries`] (two masters
//!    keep the last good entry; Consul unreachable keeps every last good entry);
//! 2. asks the local DNS server for each name: an answer, negative ones included (NXDOMAIN,
//!    no records), means Consul can answer; a timeout, SERVFAIL, REFUSED or a refused
//!    connection means it cannot;
//! 3. writes into the managed block of the hosts file ([`hosts_file`]) the last good entries
//!    of exactly the names the DNS could not answer, and removes the others.
//!
//! So the fallback is consulted only while Consul cannot answer: a name Consul says is absent
//! (NXDOMAIN in the middle of a move) is never in the block, and the host's own names in the
//! hosts file work as they always did. Every write is a whole file written beside the target
//! and renamed over it; input that cannot be read or understood changes nothing.
//!
//! - [`entries`]: the pure rules and the state file's format.
//! - [`hosts_file`]: the managed block of the hosts file.
//! - `run`: one pass ([`sync`]), the loop ([`watch`]) and the Consul check ([`check`]).

pub mod entries;
pub mod hosts_file;
mod run;
mod settings;

pub use run::{Report, check, sync, watch};
pub use settings::{
    Args, DEFAULT_DNS_SERVER, DEFAULT_HOSTS_FILE, DEFAULT_INTERVAL, DEFAULT_MAX_AGE, DEFAULT_STATE_FILE, DEFAULT_TIMEOUT,
};

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::consul;
use entries::Kind;

/// The program's name, in its output and its action log.
pub const PROGRAM: &str = "consul-hosts-fallback";

/// One name the fallback keeps: `<tag>.<service>.service[.<dc>].<domain>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// Lower-case, without a trailing dot.
    pub name: String,
    pub service: String,
    pub tag: String,
    pub kind: Kind,
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// Everything a run needs, merged from flags, environment, the config file and defaults;
/// `--print-config` shows it as it is.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The names kept, masters first per service.
    pub names: Vec<Name>,
    pub state_file: PathBuf,
    pub hosts_file: PathBuf,
    /// The DNS server clients use; asked whether it answers.
    pub dns_server: SocketAddr,
    #[serde(serialize_with = "crate::human::exact")]
    pub interval: Duration,
    #[serde(serialize_with = "crate::human::exact")]
    pub max_age: Duration,
    /// One pass's budget.
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
    pub consul: consul::ClientConfig,
}

/// Why a pass changed nothing. Each names the file; the pass can be run again once it is fixed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {error} (nothing was changed)", .path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error("{}: {reason}; fix or remove it (nothing was changed)", .path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot write {}: {error} (nothing was changed)", .path.display())]
    Write { path: PathBuf, error: io::Error },
}

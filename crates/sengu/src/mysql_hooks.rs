//! `mysql-before-exec` and `mysql-after-exec`, the mysqlfailover hooks that move the master's
//! Consul records (a catalog-only node, optionally a service on it, and a KV value) so a master
//! move never leaves Consul naming a wrong or unwritable server.
//!
//! - before: in one transaction, remove the master node (with its services) and the KV value
//!   and record the move in progress (`sengu/mysql/<kv_key>/move`); then optionally fence the
//!   old master with `read_only`.
//! - after: verify the new master (reachable, not replicating, writable); only then, in one
//!   transaction, publish it, repoint or remove the replica node, write the KV value with
//!   compare-and-set, and clear the move record. A new master that fails verification is not
//!   published, and records naming it or the old master are removed: Consul holds no master
//!   rather than a wrong one.
//!
//! [`mha`] runs both under MHA's call sequence, as one script for every phase. [`held`] is how
//! they treat the hold record ([`crate::hold`]): shown, never obeyed, and written as the
//! post-failover block after a failover.
//!
//! Parts: [`settings`] (flags, tables, merge), [`records`] (what is stored and read),
//! [`plan`] (the decisions, pure), [`servers`] (the MySQL probes and actions), [`outcome`]
//! (exit codes and the report), and `run` (the executors that tie them together).

pub mod held;
pub mod mha;
pub mod outcome;
pub mod plan;
pub mod records;
mod run;
pub mod servers;
pub mod settings;

use crate::addr::HostPort;
use crate::settings::positional_endpoint;

pub use outcome::{HookExit, Report};
pub use run::{after, after_with, before, before_with, Between, MAX_ATTEMPTS};
pub use settings::{AfterArgs, BeforeArgs, HookArgs, HookFlags, HookSettings, KvFormat, Names, SetupError};

/// The masters of one move, as the failover manager passed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masters {
    /// `None` when unknown: mysqlfailover passes `UNKNOWN UNKNOWN` when it has lost the old
    /// master's object, and a mysqlrpladmin switchover gives `--exec-after` only the new one.
    pub old: Option<HostPort>,
    pub new: HostPort,
}

pub use crate::mysql::UNKNOWN;

impl Masters {
    /// The move as positional arguments give it: `NEW_HOST NEW_PORT`, and `OLD_HOST OLD_PORT`
    /// when passed, where `UNKNOWN UNKNOWN` is an unknown old master. A malformed address is a
    /// usage error of `command` naming the arguments; so is the same server as old and new.
    pub fn from_positionals(command: &mut clap::Command, old: Option<[&str; 2]>, new: [&str; 2]) -> Result<Masters, clap::Error> {
        let old = match old {
            None | Some([UNKNOWN, UNKNOWN]) => None,
            Some([host, port]) => Some(positional_endpoint(command, ["OLD_HOST", "OLD_PORT"], host, port)?),
        };
        let new = positional_endpoint(command, ["NEW_HOST", "NEW_PORT"], new[0], new[1])?;
        Masters { old, new }.distinct(command)
    }

    /// Refuses the same server as old and new master, as a usage error of `command`.
    pub fn distinct(self, command: &mut clap::Command) -> Result<Masters, clap::Error> {
        if self.old.as_ref() == Some(&self.new) {
            return Err(command.error(
                clap::error::ErrorKind::ValueValidation,
                format!("the old and the new master are the same server ({})", self.new),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> clap::Command {
        clap::Command::new("hook")
    }

    #[test]
    fn positionals_give_the_move_and_unknown_unknown_an_unknown_old_master() {
        let moved = Masters::from_positionals(&mut command(), Some(["10.0.0.1", "3306"]), ["10.0.0.2", "3307"]).unwrap();
        assert_eq!(moved, Masters { old: Some("10.0.0.1:3306".parse().unwrap()), new: "10.0.0.2:3307".parse().unwrap() });
        let moved = Masters::from_positionals(&mut command(), Some([UNKNOWN, UNKNOWN]), ["10.0.0.2", "3307"]).unwrap();
        assert_eq!(moved.old, None);
        assert_eq!(Masters::from_positionals(&mut command(), None, ["10.0.0.2", "3307"]).unwrap().old, None);
    }

    #[test]
    fn a_malformed_address_or_the_same_server_twice_is_a_usage_error() {
        let e = Masters::from_positionals(&mut command(), Some(["10.0.0.1", UNKNOWN]), ["10.0.0.2", "3306"]).unwrap_err();
        assert!(e.to_string().contains("invalid <OLD_HOST> <OLD_PORT>: invalid port \"UNKNOWN\""), "{e}");
        let e = Masters::from_positionals(&mut command(), None, [UNKNOWN, UNKNOWN]).unwrap_err();
        assert!(e.to_string().contains("invalid <NEW_HOST> <NEW_PORT>"), "{e}");
        let e = Masters::from_positionals(&mut command(), Some(["10.0.0.2", "3306"]), ["10.0.0.2", "3306"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("the old and the new master are the same server (10.0.0.2:3306)"), "{e}");
        assert!(Masters::from_positionals(&mut command(), Some(["10.0.0.2", "3306"]), ["10.0.0.2", "3307"]).is_ok(), "two ports are two servers");
    }
}

//! A stand-in for a small Consul datacenter, for tests: one process is one datacenter with one
//! catalog, KV store and index, any number of agents (each a node with its own HTTP listener),
//! a DNS server, script checks from config dirs, anti-entropy and ACL denial, all following
//! `docs/reference/consul.md`, which this crate's docs call "the reference". No Consul binary
//! can be installed from the package registries this project reaches, so this is what tests
//! talk to.
//!
//! Start one in-process with [`Standin::builder`]; the `consul-standin` binary starts one from
//! flags. Test-only controls (a host dying, an agent unreachable, check-run history) live under
//! `/_standin/` and on [`Standin`].

pub mod acl;
pub mod agent;
pub mod catalog;
pub mod config_dir;
pub mod control;
pub mod dns;
pub mod duration;
pub mod http;
pub mod json;
pub mod kv;
pub mod standin;
pub mod state;

pub use agent::CheckRun;
pub use control::ControlError;
pub use standin::{Builder, Listening, Standin, StartError};
pub use state::{LostReply, PauseMode, ScriptChecks};

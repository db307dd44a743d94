//! The sengu library: everything the executables decide and do lives here, so it can be
//! unit-tested; the binaries only parse flags, call one function and map the result to an
//! exit code.
//!
//! Modules, one job each:
//! - [`addr`]: `host:port` endpoints as operators and failover managers pass them.
//! - [`consul`]: a blocking Consul HTTP client for the catalog, KV, transactions, agent and health.
//! - [`dns`]: A/AAAA lookups through the system resolver or a given server.
//! - [`redis`]: Redis and Sentinel probes (`INFO replication`, `ROLE`, `SENTINEL …`).
//! - [`mysql`]: MySQL/MariaDB role probes (read_only, replica status, GTID position).
//! - [`check`]: a check's outcome, its text and JSON renderings and its exit code.
//! - [`settings`]: flags > environment > config file, and the flag groups every binary shares.
//! - [`files`]: reading config and secret files with a bound (regular files only, capped size).
//! - [`human`]: durations for people, rounded to what matters (`2.0s`, `221ms`).
//! - [`actionlog`]: the durable one-line-per-action log that hooks write.
//! - [`secret`]: the one secret type (no `Display`, `Debug` prints `***`).
//! - [`redact`]: credentials taken out of command lines and outputs before they are recorded.
//! - [`entry`]: process start-up shared by every binary (panic → exit 2).
//! - [`hold`]: manual mode and the post-failover block, one Consul KV record per name that
//!   `mysql-fail-check`, the drills, the MHA script and the hooks obey or show.
//!
//! One module per executable holds that executable's decisions, so its binary stays thin:
//! - [`master_check`]: `redis-master-check`, the Consul check for the one true Redis master.
//! - [`roles`]: publishing the `master`/`replica` tags to Consul, demote before promote
//!   (shared by `redis-master-check`, `sentinel-rebalance` and `sengu-drill`).
//! - [`rebalance`]: `sentinel-rebalance`, moving the floating sentinel after a master move.
//! - [`mysql_hooks`]: `mysql-before-exec` and `mysql-after-exec`.
//! - [`mysql_check`]: `mysql-master-check`, the Consul check on every MySQL host.
//! - [`fail_check`]: `mysql-fail-check`, a master is dead only when its replicas agree.
//! - [`drill`]: `sengu-drill`, a planned switchover that measures what clients felt.
//! - [`hosts_fallback`]: `consul-hosts-fallback`, names that resolve while the local Consul
//!   agent cannot answer, and never shadow a live answer.

pub mod actionlog;
pub mod addr;
pub mod check;
pub mod consul;
pub mod dns;
pub mod drill;
pub mod entry;
pub mod fail_check;
pub mod files;
pub mod hold;
pub mod hosts_fallback;
pub mod human;
pub mod master_check;
pub mod mysql;
pub mod mysql_check;
pub mod mysql_hooks;
pub mod rebalance;
pub mod redact;
pub mod redis;
pub mod roles;
pub mod secret;
pub mod settings;

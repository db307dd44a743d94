//! The command line of `mysql-master-check`: the check's own settings ([`sengu::mysql_check::Args`],
//! `[mysql-master-check]`) and the hooks' record names and MySQL login
//! ([`sengu::mysql_hooks::HookArgs`], `[mysql-hooks]`, `[mysql]`), so the check reads the
//! records the hooks write.

use clap::Parser;

use sengu::mysql_check::Args;
use sengu::mysql_hooks::HookArgs;
use sengu::settings::{CommonArgs, ConsulArgs, PrintArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-master-check",
    version,
    about = "Consul check for every MySQL/MariaDB host: pass on the master Consul's record names and on its healthy replicas",
    after_help = "\
Called by: Consul, as a script check (check.args) on every MySQL host, e.g.
  [\"/usr/bin/mysql-master-check\", \"--mysql\", \"10.0.0.11:3306\"]
with the rest from SENGU_* / CONSUL_* variables or the config file ([mysql-master-check],
[mysql-hooks] for the record names, [mysql], [consul], [log]). --mysql must be the address the
hooks publish (what the failover manager passes them), or a server with the same server_id.

Master: passes only on the server Consul's master record names (KV, else the master node), when
it is writable and not replicating. Replica: passes when both replication threads run from that
master within --max-lag (and --max-gtid-gap); warning above --warn-lag. --role auto (the default)
judges each server by what it is. With --fence-stale-master a writable server that Consul does
not name is fenced (read_only on, client connections killed) only when the record names another
server that answers as a writable master and no move is recorded. With --reconcile a move that
mysql-after-exec recorded but did not publish is finished on its new master, when that is
writable and the old one is not.

Exit codes (Consul check states):
  0  passing
  1  warning: behind more than --warn-lag, or Consul's record could not be read (stays in DNS)
  2  critical: not the master Consul names, replication broken, too far behind, a stale master
     (fenced or not), bad settings, or the server could not be asked"
)]
pub struct Cli {
    #[command(flatten)]
    pub check: Args,
    #[command(flatten)]
    pub hook: HookArgs,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}

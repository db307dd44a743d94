//! The command line of `consul-hosts-fallback`: `sync` (one pass, for a timer), `watch` (a pass
//! every `--interval`, for a service) and `check` (the Consul check). Its settings are declared
//! once in [`sengu::hosts_fallback::Args`] (flag, environment variable and
//! `[consul-hosts-fallback]` key each); the shared groups come from `sengu::settings`.

use clap::{Parser, Subcommand};

use sengu::hosts_fallback::{self, Settings};
use sengu::settings::{CommonArgs, ConfigFile, ConsulArgs, PrintArgs, SetupError};

#[derive(Debug, Parser)]
#[command(
    name = "consul-hosts-fallback",
    version,
    about = "Keep the masters (and tagged replicas) from Consul's health API as a hosts-file fallback that is used only while the local DNS cannot answer",
    after_help = "\
Called by: systemd, `consul-hosts-fallback watch` as a service (or `sync` from a timer); and
Consul, `consul-hosts-fallback check` as a script check (see consul.d/hosts-fallback.json).

Each pass reads the passing masters from Consul's health API into the state file (two masters
keep the last good entry; Consul unreachable keeps every last good entry), asks the local DNS
(--dns-server) for each name, and writes the last good entries of exactly the names it cannot
answer into the managed block of the hosts file; a name the DNS answers, NXDOMAIN included,
has no entry there. Both files are replaced whole (write, then rename).

Exit codes:
  sync   0 done, every name follows Consul; 1 done, but a name kept its last good entry
         (two masters, Consul unreachable); 2 bad input, an unreadable or unwritable file:
         nothing changed
  watch  runs until stopped; 2 for bad settings at start
  check  0 passing; 1 warning (stale, disagrees with Consul, fallback active, a hosts line
         hiding a Consul name); 2 critical (a fallback entry shadows a live DNS answer, could
         not check, bad input)

The Consul token comes from CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE, never from a flag."
)]
pub struct Cli {
    #[command(subcommand)]
    pub task: Task,
    #[command(flatten)]
    pub fallback: hosts_fallback::Args,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Task {
    /// One pass: update the state file from Consul, then the hosts file's managed block (a timer)
    Sync,
    /// A pass every --interval until stopped (a systemd service)
    Watch,
    /// Consul check: warn when the fallback is stale or disagrees with Consul; critical when it shadows a live answer
    Check,
}

impl Cli {
    /// The settings of the run: [`Settings::resolve`] layers these flags over the config file.
    pub fn settings(&self, config: &ConfigFile) -> Result<Settings, SetupError> {
        Settings::resolve(&self.fallback, &self.common, &self.consul, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["consul-hosts-fallback"].iter().chain(args))
    }

    fn settings(args: &[&str], config: &str) -> Result<Settings, SetupError> {
        let config = ConfigFile::parse("/etc/sengu/sengu.toml".into(), config).unwrap();
        parse(args).unwrap().settings(&config)
    }

    fn names(s: &Settings) -> Vec<&str> {
        s.names.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_task_is_required() {
        assert!(parse(&["--service", "redis"]).is_err());
        assert_eq!(parse(&["sync", "--service", "redis"]).unwrap().task, Task::Sync);
        assert_eq!(parse(&["--service", "redis", "watch"]).unwrap().task, Task::Watch);
        assert_eq!(parse(&["check"]).unwrap().task, Task::Check);
    }

    #[test]
    fn a_service_comes_from_the_flag_or_the_file() {
        let e = settings(&["sync"], "").unwrap_err().to_string();
        assert!(e.contains("--service <NAME> (or SENGU_SERVICES, or services in [consul-hosts-fallback])"), "{e}");
        let s = settings(&["sync"], "[consul-hosts-fallback]\nservices = [\"redis\", \"mysql\"]\n").unwrap();
        assert_eq!(names(&s), ["master.mysql.service.consul", "master.redis.service.consul"]);
        let s = settings(&["sync", "--service", "cache"], "[consul-hosts-fallback]\nservices = [\"redis\"]\n").unwrap();
        assert_eq!(names(&s), ["master.cache.service.consul"], "the flag wins");
    }

    #[test]
    fn replicas_tags_datacenter_and_domain_shape_the_names() {
        let s = settings(&["sync", "--service", "redis", "--replicas", "--master-tag", "primary", "--replica-tag", "standby", "--datacenter", "dc2", "--domain", "Example."], "").unwrap();
        assert_eq!(names(&s), ["primary.redis.service.dc2.example", "standby.redis.service.dc2.example"]);
        let s = settings(&["sync", "--service", "redis", "--replicas=false"], "[consul-hosts-fallback]\nreplicas = true\n").unwrap();
        assert_eq!(names(&s), ["master.redis.service.consul"]);
    }

    #[test]
    fn names_must_be_dns_labels() {
        for args in [&["sync", "--service", "red is"][..], &["sync", "--service", "r", "--master-tag", "a.b"], &["sync", "--service", "r", "--datacenter", ""]] {
            let e = settings(args, "").unwrap_err().to_string();
            assert!(e.contains("it is part of a DNS name"), "{args:?}: {e}");
        }
        let e = settings(&["sync", "--service", "r", "--master-tag", "x", "--replica-tag", "X"], "").unwrap_err().to_string();
        assert!(e.contains("must differ"), "{e}");
    }

    #[test]
    fn files_and_the_dns_server_have_defaults_and_checks() {
        let s = settings(&["sync", "--service", "redis"], "").unwrap();
        assert_eq!(s.state_file, Path::new("/var/lib/sengu-hosts-fallback/last-good"));
        assert_eq!(s.hosts_file, Path::new("/etc/hosts"));
        assert_eq!(s.dns_server, "127.0.0.1:53".parse().unwrap());
        assert_eq!((s.interval, s.max_age, s.timeout), (Duration::from_secs(2), Duration::from_secs(600), Duration::from_secs(2)));
        let e = settings(&["sync", "--service", "r", "--dns-server", "dnsmasq:53"], "").unwrap_err().to_string();
        assert!(e.contains("the host must be an IP address"), "{e}");
        let e = settings(&["sync", "--service", "r", "--state-file", "/etc/hosts"], "").unwrap_err().to_string();
        assert!(e.contains("two different files"), "{e}");
        assert!(parse(&["sync", "--interval", "0s"]).is_err());
    }

    #[test]
    fn durations_come_from_the_file_and_the_flag_wins() {
        let file = "[consul-hosts-fallback]\nservices = [\"redis\"]\ninterval = \"5s\"\nmax_age = \"1h\"\ntimeout = \"3s\"\n";
        let s = settings(&["watch"], file).unwrap();
        assert_eq!((s.interval, s.max_age, s.timeout), (Duration::from_secs(5), Duration::from_secs(3600), Duration::from_secs(3)));
        let s = settings(&["watch", "--interval", "1s", "--max-age", "5m", "--timeout", "1500ms"], file).unwrap();
        assert_eq!((s.interval, s.max_age, s.timeout), (Duration::from_secs(1), Duration::from_secs(300), Duration::from_millis(1500)));
    }

    #[test]
    fn an_unknown_key_in_the_table_is_an_error() {
        let e = settings(&["sync"], "[consul-hosts-fallback]\nservice = \"redis\"\n").unwrap_err().to_string();
        assert!(e.contains("unknown key \"service\" in [consul-hosts-fallback]"), "{e}");
    }
}

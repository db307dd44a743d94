//! The command line of `redis-master-check`: what Consul's `check.args` passes. The check's
//! settings are declared once in [`sengu::master_check::Args`] (flag, environment variable and
//! `[redis-master-check]` key each); the shared groups come from `sengu::settings`.

use clap::Parser;

use sengu::master_check::{self, Settings};
use sengu::settings::{CommonArgs, ConfigFile, ConsulArgs, PrintArgs, SetupError};

#[derive(Debug, Parser)]
#[command(
    name = "redis-master-check",
    version,
    about = "Consul check on every Redis host: pass only on the one true master (or, in role mode, on a healthy replica), keep the service's master/replica tags true",
    after_help = "\
Called by: Consul, as a script check on each Redis host (see consul.d/ for ready definitions):
  \"args\": [\"/usr/bin/redis-master-check\", \"--redis\", \"127.0.0.1:6379\", \"--service\", \"redis\",
           \"--sentinel\", \"10.0.0.11:26379\", \"--sentinel\", \"10.0.0.12:26379\", \"--sentinel\", \"10.0.0.12:26380\"]

Exit codes (Consul's script-check mapping):
  0  passing   this Redis is what the check asks for (the master, or a healthy replica)
  1  warning   uncertain (DNS or sentinels cannot prove it) or tags not published; stays in DNS
  2  critical  anything else, including \"could not check\" and bad arguments

Line 1 of the output is `PASSING|WARNING|CRITICAL: …` and stays the same while the state does.
The Redis password comes from REDISCLI_AUTH or [redis] password_file, never from a flag; the
Consul token from CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE."
)]
pub struct Cli {
    #[command(flatten)]
    pub check: master_check::Args,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

impl Cli {
    /// The settings of the run: [`Settings::resolve`] layers these flags over the config file.
    pub fn settings(&self, config: &ConfigFile) -> Result<Settings, SetupError> {
        Settings::resolve(&self.check, &self.common, &self.consul, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use sengu::addr::HostPort;
    use sengu::master_check::Mode;
    use sengu::roles::RoleTags;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1:6379", "--service", "redis"].iter().chain(args))
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap()
    }

    fn settings(args: &[&str], config: &str) -> Result<Settings, SetupError> {
        parse(args).unwrap().settings(&file(config))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn redis_and_service_come_from_flags_or_the_file() {
        let cli = Cli::try_parse_from(["redis-master-check"]).unwrap();
        let e = cli.settings(&ConfigFile::empty()).unwrap_err().to_string();
        assert!(e.contains("--redis <HOST:PORT> (or SENGU_REDIS, or redis in [redis-master-check])"), "{e}");
        let cli = Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1:6379"]).unwrap();
        assert!(cli.settings(&ConfigFile::empty()).unwrap_err().to_string().contains("--service <NAME>"));
        let s = cli.settings(&file("[redis-master-check]\nservice = \"cache\"\n")).unwrap();
        assert_eq!((s.redis.to_string().as_str(), s.service.as_str(), s.sentinel_master.as_str()), ("127.0.0.1:6379", "cache", "cache"));
    }

    #[test]
    fn redis_must_be_host_and_port() {
        assert!(Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1", "--service", "redis"]).is_err());
    }

    #[test]
    fn sentinels_repeat_and_beat_the_file() {
        let cli = parse(&["--sentinel", "127.0.0.11:26379", "--sentinel", "127.0.0.12:26379"]).unwrap();
        assert_eq!(cli.check.sentinels.len(), 2);
        assert!(parse(&["--sentinel", "127.0.0.11"]).is_err());
        let from_file = settings(&[], "[redis-master-check]\nsentinels = [\"10.0.0.1:26379\"]\n").unwrap();
        assert_eq!(from_file.sentinels, vec!["10.0.0.1:26379".parse::<HostPort>().unwrap()]);
        let from_flag = settings(&["--sentinel", "10.0.0.2:26379"], "[redis-master-check]\nsentinels = [\"10.0.0.1:26379\"]\n").unwrap();
        assert_eq!(from_flag.sentinels, vec!["10.0.0.2:26379".parse::<HostPort>().unwrap()]);
    }

    #[test]
    fn role_takes_master_replica_or_auto() {
        assert_eq!(parse(&["--role", "replica"]).unwrap().check.role, Some(Mode::Replica));
        assert_eq!(parse(&[]).unwrap().check.role, None, "no clap default: the config file may set it");
        assert!(parse(&["--role", "slave"]).is_err());
        assert_eq!(settings(&[], "[redis-master-check]\nrole = \"auto\"\n").unwrap().mode, Mode::Auto);
        assert_eq!(settings(&[], "").unwrap().mode, Mode::Master);
    }

    #[test]
    fn boolean_flags_beat_the_file_both_ways() {
        assert_eq!(parse(&["--publish-tags"]).unwrap().check.publish_tags, Some(true));
        assert_eq!(parse(&["--publish-tags=false"]).unwrap().check.publish_tags, Some(false));
        let on = "[redis-master-check]\npublish_tags = true\nfence_stale_master = true\n";
        assert!(settings(&[], on).unwrap().publish_tags);
        assert!(!settings(&["--publish-tags=false"], on).unwrap().publish_tags);
        assert!(settings(&["--fence-stale-master"], "").unwrap().fence_stale_master);
        assert!(!settings(&[], "").unwrap().fence_stale_master);
    }

    #[test]
    fn dns_server_must_be_an_ip_address() {
        let s = settings(&["--dns-server", "127.0.0.1:8600"], "").unwrap();
        assert_eq!(s.dns_server, Some("127.0.0.1:8600".parse().unwrap()));
        let e = settings(&["--dns-server", "consul:8600"], "").unwrap_err().to_string();
        assert!(e.contains("the host must be an IP address"), "{e}");
        assert_eq!(settings(&[], "").unwrap().dns_server, None, "default: the system resolver");
    }

    #[test]
    fn sentinel_count_is_at_most_the_addresses_given() {
        let four = ["--sentinel", "10.0.0.11:26379", "--sentinel", "10.0.0.12:26379", "--sentinel", "10.0.0.11:26380", "--sentinel", "10.0.0.12:26380"];
        let s = settings(&[&four[..], &["--sentinel-count", "3"]].concat(), "").unwrap();
        assert_eq!(s.sentinel_count, Some(3));
        assert!(settings(&[&four[..], &["--sentinel-count", "5"]].concat(), "").is_err());
        assert!(settings(&["--sentinel-count", "1"], "").unwrap_err().to_string().contains("must be from 1 to the 0 --sentinel addresses"));
        assert_eq!(settings(&four, "").unwrap().sentinel_count, None);
    }

    #[test]
    fn tag_names_must_differ() {
        let e = settings(&["--master-tag", "x", "--replica-tag", "X"], "").unwrap_err().to_string();
        assert!(e.contains("must be two different, non-empty tags"), "{e}");
    }

    #[test]
    fn defaults_fill_what_nobody_set() {
        let s = settings(&[], "").unwrap();
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.max_lag, Duration::from_secs(30));
        assert_eq!(s.fence_duration, Duration::from_secs(10));
        assert_eq!(s.tags, RoleTags::default());
        assert_eq!(s.dns_name(), "master.redis.service.consul.");
    }

    #[test]
    fn optional_settings_parse_and_the_flag_wins() {
        let config = "[redis-master-check]\ntimeout = \"5s\"\nmax_lag = 7\ndomain = \"filed\"\n";
        let s = settings(
            &[
                "--datacenter", "dc2", "--domain", "example", "--advertise-ip", "10.0.0.11", "--sentinel-master", "mymaster", "--max-lag",
                "5", "--master-tag", "primary", "--replica-tag", "standby", "--timeout", "1500ms", "--fence-duration", "4s",
            ],
            config,
        )
        .unwrap();
        assert_eq!(s.dns_name(), "primary.redis.service.dc2.example.");
        assert_eq!(s.advertise_ip, Some("10.0.0.11".parse().unwrap()));
        assert_eq!(s.sentinel_master, "mymaster");
        assert_eq!(s.max_lag, Duration::from_secs(5));
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.fence_duration, Duration::from_secs(4));
        let s = settings(&[], config).unwrap();
        assert_eq!((s.timeout, s.max_lag, s.domain.as_str()), (Duration::from_secs(5), Duration::from_secs(7), "filed"));
        assert!(parse(&["--advertise-ip", "not-an-ip"]).is_err());
        assert!(parse(&["--max-lag", "-1"]).is_err());
        assert!(parse(&["--fence-duration", "0s"]).is_err());
    }

    #[test]
    fn an_unknown_key_in_the_table_is_an_error() {
        let e = settings(&[], "[redis-master-check]\nsentinel = [\"10.0.0.1:26379\"]\n").unwrap_err().to_string();
        assert!(e.contains("unknown key \"sentinel\" in [redis-master-check]"), "{e}");
        let e = settings(&[], "[redis-master-check]\nsentinels = [\"10.0.0.1\"]\n").unwrap_err().to_string();
        assert!(e.contains("missing port"), "{e}");
    }
}

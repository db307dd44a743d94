//! Command-line flags of the `consul-standin` binary and their translation into a [`Builder`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use consul_standin::{Builder, ScriptChecks, Standin};

/// A stand-in for a small Consul datacenter (HTTP API subset, DNS, script checks), for tests.
#[derive(Debug, Parser)]
#[command(
    name = "consul-standin",
    version,
    after_help = "Prints one line per listener once all are ready:\n  \
                  listening agent=NAME http=IP:PORT\n  listening dns=IP:PORT proto=udp,tcp\n\
                  Test controls are under /_standin/ on every agent's HTTP address."
)]
pub struct Cli {
    /// Datacenter name.
    #[arg(long, default_value = "dc1")]
    pub datacenter: String,

    /// An agent: its node name, node address and HTTP listener (repeatable; the first one is the server).
    #[arg(long = "agent", value_name = "NAME=IP:PORT", required = true, value_parser = parse_agent)]
    pub agents: Vec<(String, SocketAddr)>,

    /// Serve DNS for the datacenter on this address (UDP and TCP).
    #[arg(long, value_name = "IP:PORT")]
    pub dns: Option<SocketAddr>,

    /// Load an agent's service and check definitions (*.json) from DIR (repeatable).
    #[arg(long = "config-dir", value_name = "NAME=DIR", value_parser = parse_named_path)]
    pub config_dirs: Vec<(String, PathBuf)>,

    /// Turn ACLs on (default policy deny) with this token; visible to other users in the process list, prefer --acl-token-file.
    #[arg(long, value_name = "TOKEN", conflicts_with = "acl_token_file")]
    pub acl_token: Option<String>,

    /// Turn ACLs on with the token read (whitespace-trimmed) from FILE.
    #[arg(long, value_name = "FILE")]
    pub acl_token_file: Option<PathBuf>,

    /// How often each agent restores its services in the catalog.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub anti_entropy_interval: Duration,

    /// How long output-only check changes wait before reaching the catalog (Consul's check_update_interval).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub check_update_interval: Duration,

    /// Which script checks agents run: enabled, local (config files only) or disabled; NAME=MODE sets one agent.
    #[arg(long = "script-checks", value_name = "[NAME=]MODE", value_parser = parse_script_checks)]
    pub script_checks: Vec<(Option<String>, ScriptChecks)>,

    /// Run each check once at start instead of after a random delay within its interval.
    #[arg(long)]
    pub first_check_immediately: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    consul_standin::duration::parse(s).ok_or_else(|| format!("invalid duration {s:?}"))
}

fn parse_agent(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=IP:PORT, got {s:?}"))?;
    let addr = addr
        .parse()
        .map_err(|_| format!("invalid address {addr:?} in {s:?}"))?;
    if name.is_empty() {
        return Err(format!("missing agent name in {s:?}"));
    }
    Ok((name.to_string(), addr))
}

fn parse_named_path(s: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=DIR, got {s:?}"))?;
    Ok((name.to_string(), PathBuf::from(dir)))
}

fn parse_mode(s: &str) -> Result<ScriptChecks, String> {
    match s {
        "enabled" => Ok(ScriptChecks::Enabled),
        "local" => Ok(ScriptChecks::LocalOnly),
        "disabled" => Ok(ScriptChecks::Disabled),
        _ => Err(format!(
            "invalid script check mode {s:?} (enabled, local, disabled)"
        )),
    }
}

fn parse_script_checks(s: &str) -> Result<(Option<String>, ScriptChecks), String> {
    match s.split_once('=') {
        Some((name, mode)) => Ok((Some(name.to_string()), parse_mode(mode)?)),
        None => Ok((None, parse_mode(s)?)),
    }
}

impl Cli {
    /// The builder these flags describe.
    pub fn builder(&self) -> Result<Builder, String> {
        let mut b = Standin::builder()
            .datacenter(&self.datacenter)
            .anti_entropy(self.anti_entropy_interval)
            .check_update_interval(self.check_update_interval)
            .first_check_immediately(self.first_check_immediately);
        for (name, addr) in &self.agents {
            b = b.agent_at(name, *addr);
        }
        for (name, dir) in &self.config_dirs {
            b = b.config_dir(name, dir.clone());
        }
        for (name, mode) in &self.script_checks {
            b = match name {
                Some(name) => b.agent_script_checks(name, *mode),
                None => b.script_checks(*mode),
            };
        }
        if let Some(addr) = self.dns {
            b = b.dns_at(addr);
        }
        let token = match (&self.acl_token, &self.acl_token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read ACL token file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            b = b.acl_token(&t);
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn agents_and_modes_parse() {
        let cli = Cli::try_parse_from([
            "consul-standin",
            "--agent",
            "a=127.0.0.21:8500",
            "--script-checks",
            "a=disabled",
            "--anti-entropy-interval",
            "1s",
        ])
        .unwrap();
        assert_eq!(cli.agents[0].0, "a");
        assert_eq!(
            cli.script_checks[0],
            (Some("a".into()), ScriptChecks::Disabled)
        );
        assert_eq!(cli.anti_entropy_interval, Duration::from_secs(1));
        assert!(Cli::try_parse_from(["consul-standin"]).is_err());
        assert!(Cli::try_parse_from(["consul-standin", "--agent", "a"]).is_err());
    }
}

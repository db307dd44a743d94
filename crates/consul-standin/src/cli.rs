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
        // Asking for ACLs and getting none would let every test that relies on them pass
        // against an open agent: an empty or unreadable token is a start-up error.
        let token = match (&self.acl_token, &self.acl_token_file) {
            (Some(t), _) if t.trim().is_empty() => return Err("--acl-token is empty: refusing to start with ACLs off".to_string()),
            (Some(t), _) => Some(t.trim().to_string()),
            (None, Some(path)) => Some(read_token_file(path)?),
            (None, None) => None,
        };
        if let Some(t) = token {
            b = b.acl_token(&t);
        }
        Ok(b)
    }
}

/// The token in `path`, whitespace-trimmed. Only a regular file of at most 64 KiB is read (a
/// FIFO would block the start, a device would never end), opened non-blocking and checked on
/// the open descriptor; an empty token is an error.
fn read_token_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    const LIMIT: u64 = 64 << 10;
    let cannot = |why: String| format!("cannot read ACL token file {}: {why}", path.display());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| cannot(e.to_string()))?;
    if !file.metadata().map_err(|e| cannot(e.to_string()))?.is_file() {
        return Err(cannot("not a regular file".to_string()));
    }
    let mut bytes = Vec::new();
    file.take(LIMIT + 1).read_to_end(&mut bytes).map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > LIMIT {
        return Err(cannot("larger than 64 KiB".to_string()));
    }
    let text = String::from_utf8(bytes).map_err(|_| cannot("not valid UTF-8".to_string()))?;
    match text.trim() {
        "" => Err(format!("ACL token file {} is empty: refusing to start with ACLs off", path.display())),
        token => Ok(token.to_string()),
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

    #[test]
    fn an_empty_or_unreadable_acl_token_is_a_start_up_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, "t0ken\n").unwrap();
        let builder = |flag: &str, value: &std::path::Path| {
            Cli::try_parse_from(["consul-standin", "--agent", "a=127.0.0.21:0", flag, value.to_str().unwrap()]).unwrap().builder()
        };
        let e = builder("--acl-token-file", &empty).unwrap_err();
        assert_eq!(e, format!("ACL token file {} is empty: refusing to start with ACLs off", empty.display()));
        let e = builder("--acl-token-file", &dir.path().join("missing")).unwrap_err();
        assert!(e.starts_with("cannot read ACL token file "), "{e}");
        let e = builder("--acl-token-file", std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(e.ends_with("not a regular file"), "{e}");
        let e = builder("--acl-token-file", dir.path()).unwrap_err();
        assert!(e.ends_with("not a regular file"), "{e}");
        assert!(builder("--acl-token", std::path::Path::new(" ")).is_err());
        assert!(builder("--acl-token-file", &good).is_ok());
    }
}

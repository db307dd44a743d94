//! `sentinel-rebalance` as Sentinel runs it: help, the seven-argument contract and bad input give
//! the right exit code (never 1 for bad input: Sentinel would retry it ten times), and settings
//! arrive through the environment and the config file. The bad-input cases against a live pair
//! are in `bad_input.rs`.

use sengu_testsupport::{run, run_env};

const BIN: &str = env!("CARGO_BIN_EXE_sentinel-rebalance");
const SEVEN: [&str; 7] = ["mymaster", "leader", "start", "127.0.0.11", "6379", "127.0.0.12", "6379"];

/// A complete host environment where nothing listens: six reserved endpoints, and a config
/// file, action log, lock and floating config path in a temp dir of its own.
struct HostEnv {
    leases: Vec<testbed::PortLease>,
    dir: tempfile::TempDir,
}

impl HostEnv {
    /// The environment with `config` as the config file's text.
    fn new(config: &str) -> HostEnv {
        let ip = testbed::ports::host(1);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sengu.toml"), config).unwrap();
        HostEnv { leases: (0..6).map(|_| testbed::ports::reserve(ip)).collect(), dir }
    }

    fn log(&self) -> std::path::PathBuf {
        self.dir.path().join("actions.log")
    }

    fn floating(&self) -> std::path::PathBuf {
        self.dir.path().join("floating.conf")
    }

    /// The variables a sentinel's environment would carry, plus `extra`.
    fn vars(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let path = |name: &str| self.dir.path().join(name).display().to_string();
        let ends = ["SENGU_REDIS", "SENGU_PEER_REDIS", "SENGU_SENTINEL", "SENGU_PEER_SENTINEL", "SENGU_FLOATING", "SENGU_PEER_FLOATING"];
        let mut vars: Vec<(String, String)> = vec![
            ("SENGU_CONFIG".into(), path("sengu.toml")),
            ("SENGU_LOG_FILE".into(), path("actions.log")),
            ("SENGU_SENTINEL_MASTER".into(), "mymaster".into()),
            ("SENGU_FLOATING_MYID".into(), "f100000000000000000000000000000000000f1f".into()),
            ("SENGU_FLOATING_CONFIG".into(), path("floating.conf")),
            ("SENGU_LOCK_FILE".into(), path("lock")),
        ];
        vars.extend(ends.iter().zip(&self.leases).map(|(k, l)| (k.to_string(), format!("{}:{}", testbed::ports::host(1), l.port()))));
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> sengu_testsupport::Run {
        let vars = self.vars(extra);
        let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_env(BIN, args, &env)
    }
}

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("client-reconfig-script")
        .stdout_contains("<master-name> <leader|observer> start <from-ip> <from-port> <to-ip> <to-port>")
        .stdout_contains("1  failed for now: Sentinel retries");
}

#[test]
fn a_wrong_argument_count_exits_two() {
    run(BIN, &SEVEN[..6]).exits(2).stderr_contains("<to-port>").stdout_is_empty();
    run(BIN, &[&SEVEN[..], &["extra"]].concat()).exits(2).stderr_contains("exactly 7 arguments, got 8");
    run(BIN, &[]).exits(2).stderr_contains("<master-name>");
}

#[test]
fn a_malformed_address_exits_two() {
    let mut args = SEVEN;
    args[4] = "port";
    run(BIN, &args).exits(2).stderr_contains("invalid <from-ip> <from-port>: invalid port \"port\"");
    let mut args = SEVEN;
    args[5] = "";
    run(BIN, &args).exits(2).stderr_contains("invalid <to-ip> <to-port>: empty host");
}

#[test]
fn an_unknown_role_exits_two() {
    let mut args = SEVEN;
    args[1] = "follower";
    run(BIN, &args).exits(2).stderr_contains("invalid value 'follower'");
}

#[test]
fn missing_settings_exit_two_and_name_the_setting() {
    run(BIN, &SEVEN)
        .exits(2)
        .stdout_starts_with("sentinel-rebalance: missing setting master_name (set SENGU_SENTINEL_MASTER or master_name in [sentinel-rebalance])");
    run(BIN, &["status"]).exits(2).stdout_starts_with("sentinel-rebalance: missing setting ");
}

#[test]
fn settings_come_from_the_environment_sentinel_passes_on_and_the_config_file() {
    // Nothing listens at any of these addresses: the run cannot find a master, keeps looking
    // until its (short) budget is spent and asks Sentinel to retry.
    let host = HostEnv::new("[sentinel-rebalance]\nfloating_start = [\"true\"]\n");
    let (log, floating) = (host.log(), host.floating());
    host.run(&SEVEN, &[("SENGU_TIMEOUT", "1s")]).exits(1).stdout_starts_with("sentinel-rebalance: not yet: no master is named by 2 of the 3 sentinels");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" program=sentinel-rebalance ") && text.contains(" action=reconfig-call "), "{text}");
    assert!(text.contains(" from=127.0.0.11:6379 to=127.0.0.12:6379"), "the call is logged as given: {text}");
    assert!(!floating.exists(), "nothing was started");
}

/// Sentinel SIGKILLs its script after 60 s, possibly in the middle of a move, so a budget it
/// cannot honour (`SENGU_TIMEOUT=10m`) is bad input: exit 2 (no retry), nothing done.
#[test]
fn a_budget_sentinel_cannot_honour_exits_two_and_does_nothing() {
    let host = HostEnv::new("[sentinel-rebalance]\nfloating_start = [\"true\"]\ntimeout = \"2m\"\n");
    let (log, floating) = (host.log(), host.floating());
    let run = |args: &[&str], timeout: Option<&str>| match timeout {
        Some(t) => host.run(args, &[("SENGU_TIMEOUT", t)]),
        None => host.run(args, &[]),
    };
    run(&SEVEN, Some("10m"))
        .exits(2)
        .stdout_starts_with("sentinel-rebalance: invalid setting timeout: 10m is more than Sentinel lets its script run (it kills it after 60s, maybe in the middle of a move); at most 55s");
    // From the config file too, and for the commands run by hand.
    run(&SEVEN, None).exits(2).stdout_contains("invalid setting timeout: 2m is more than");
    run(&["reconcile"], None).exits(2).stdout_contains("invalid setting timeout: 2m is more than");
    run(&["status", "--timeout", "61s"], None).exits(2).stdout_contains("invalid setting timeout: 1m1s is more than");
    assert!(!log.exists() || std::fs::read_to_string(&log).unwrap().is_empty(), "nothing was logged: nothing was done");
    assert!(!floating.exists(), "nothing was started");
}

#[test]
fn the_example_host_config_is_complete_and_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/redis-sentinel/rebalance/sengu-host-a.toml");
    let config = sengu::settings::ConfigFile::load(&path).unwrap();
    let layer: sengu::rebalance::Args = config.section(sengu::rebalance::SECTION).unwrap();
    let settings = layer.resolve(Default::default(), Default::default()).unwrap();
    assert_eq!(settings.floating_start, ["systemctl", "start", "redis-sentinel-floating.service"]);
    assert_eq!(settings.here.floating.to_string(), "10.0.0.11:26380");
    let _: sengu::settings::LogArgs = config.section("log").unwrap();
}

/// `--print-config` shows the merged settings (flags and variables over the file, then the
/// defaults), with password directives of the floating sentinel's config as `<set>`, and does
/// nothing else: no lock, no log, no sentinel asked.
#[test]
fn print_config_shows_the_merged_settings_and_hides_secrets() {
    let config = "[sentinel-rebalance]\nfloating_start = [\"systemctl\", \"start\", \"f\"]\nfloating_config_lines = [\"requirepass s3cret-pw\"]\nquorum = 2\n";
    let host = HostEnv::new(config);
    let (log, floating) = (host.log(), host.floating());
    let run = host.run(&["status", "--print-config"], &[("SENGU_QUORUM", "1")]);
    run.exits(0)
        .stdout_contains("quorum = 1\n")
        .stdout_contains("master_name = \"mymaster\"\n")
        .stdout_contains("floating_start = [\"systemctl\", \"start\", \"f\"]\n")
        .stdout_contains("\"requirepass <set>\"");
    assert!(!run.stdout().contains("s3cret-pw"), "{run}");
    assert!(!floating.exists() && !log.exists(), "nothing was started or logged");
}

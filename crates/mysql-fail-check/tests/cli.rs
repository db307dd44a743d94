//! `mysql-fail-check` as mysqlfailover runs it, without a database: bad input of every kind
//! exits 0 (mysqlfailover reads non-zero as "fail over now") with a CRITICAL line that also
//! reaches the durable log; a master nobody can vouch for follows the configured rule; the
//! state file carries the dead streak from run to run and survives corruption.

use std::path::Path;

use sengu_testsupport::{run, run_env};
use testbed::ports::{host, reserve, PortLease};

const BIN: &str = env!("CARGO_BIN_EXE_mysql-fail-check");

const CRITICAL: &str = "mysql-fail-check: CRITICAL: bad input, no failover: ";

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("actions.log")).unwrap_or_default()
}

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("mysqlfailover --exec-fail-check")
        .stdout_contains("Any non-zero exit starts a failover, so bad input never gives one");
}

#[test]
fn a_wrong_argument_count_exits_zero_with_a_critical_line() {
    run(BIN, &["127.0.0.11"])
        .exits(0)
        .stderr_contains("<OLD_PORT>")
        .stdout_starts_with(&format!("{CRITICAL}the following required arguments were not provided: <OLD_PORT>"));
    run(BIN, &["127.0.0.11", "3306", "extra"]).exits(0).stderr_contains("unexpected argument (a word without an option").stdout_starts_with(CRITICAL);
}

#[test]
fn a_malformed_port_exits_zero_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("actions.log");
    run(BIN, &["127.0.0.11", "3306x", "--log-file", log.to_str().unwrap()])
        .exits(0)
        .stdout_starts_with(&format!("{CRITICAL}invalid <OLD_HOST> <OLD_PORT>: invalid port \"3306x\""));
    let text = log_of(dir.path());
    assert!(text.contains("action=fail-check decision=no-failover category=BadInput problem="), "{text}");
}

#[test]
fn unknown_unknown_means_nothing_to_check() {
    run(BIN, &["UNKNOWN", "UNKNOWN"])
        .exits(0)
        .stdout_starts_with(&format!("{CRITICAL}mysqlfailover passed UNKNOWN UNKNOWN: it has lost track of the master"));
}

#[test]
fn a_broken_config_file_or_variable_never_starts_a_failover() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[mysql-fail-check]\nconfirm_run = 1\n").unwrap();
    let log = dir.path().join("actions.log");
    let (config, log) = (config.to_str().unwrap(), log.to_str().unwrap());
    run_env(BIN, &["127.0.0.11", "3306"], &[("SENGU_CONFIG", config), ("SENGU_LOG_FILE", log)])
        .exits(0)
        .stdout_contains("unknown key \"confirm_run\" in [mysql-fail-check]");
    // A value clap refuses: the log is still found through SENGU_LOG_FILE.
    run_env(BIN, &["127.0.0.11", "3306"], &[("SENGU_CONFIRM_RUNS", "0"), ("SENGU_LOG_FILE", log)])
        .exits(0)
        .stdout_starts_with(CRITICAL)
        .stdout_contains("--confirm-runs");
    let text = log_of(dir.path());
    assert_eq!(text.lines().filter(|l| l.contains("category=BadInput")).count(), 2, "{text}");
}

/// A FIFO or `/dev/zero` as the config file or the Consul token file once blocked the run
/// forever or read until the OOM killer ended it, and death by signal reads as "fail over
/// now". Each is bad input: exit 0 with the CRITICAL line, logged, at once.
#[test]
fn a_fifo_or_dev_zero_as_config_or_token_file_is_bad_input_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    sengu_testsupport::stuck_fifo(&fifo, std::time::Duration::from_secs(5));
    let log = dir.path().join("actions.log");
    let (fifo, log) = (fifo.to_str().unwrap(), log.to_str().unwrap());
    let limit = std::time::Duration::from_secs(3);
    let args = ["127.0.0.11", "3306"];
    for path in [fifo, "/dev/zero"] {
        let kind = if path == fifo { "a fifo" } else { "a character device" };
        let refused = format!("cannot read config file {path}: not a regular file (it is {kind})");
        sengu_testsupport::run_env_within(limit, BIN, &args, &[("SENGU_CONFIG", path), ("SENGU_LOG_FILE", log)])
            .exits(0)
            .stdout_starts_with(&format!("{CRITICAL}{refused}"));
        sengu_testsupport::run_env_within(limit, BIN, &["--config", path, "127.0.0.11", "3306"], &[("SENGU_LOG_FILE", log)])
            .exits(0)
            .stdout_starts_with(&format!("{CRITICAL}{refused}"));
        let token = [("CONSUL_HTTP_TOKEN_FILE", path), ("SENGU_LOG_FILE", log), ("SENGU_REPLICA_SERVICE", "mysql")];
        sengu_testsupport::run_env_within(limit, BIN, &args, &token)
            .exits(0)
            .stdout_starts_with(CRITICAL)
            .stdout_contains(&format!("cannot read token file {path:?}: not a regular file (it is {kind})"));
    }
    let text = log_of(dir.path());
    assert_eq!(text.lines().filter(|l| l.contains("category=BadInput") && l.contains("not a regular file")).count(), 6, "{text}");
}

/// `user:password@` in `CONSUL_HTTP_ADDR` was echoed in the CRITICAL line and the action log.
#[test]
fn user_info_in_consul_http_addr_never_reaches_the_output_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("actions.log");
    let env = [
        ("CONSUL_HTTP_ADDR", "http://sengu:s3cret-pw@127.0.0.1:8500"),
        ("SENGU_REPLICA_SERVICE", "mysql"),
        ("SENGU_LOG_FILE", log.to_str().unwrap()),
    ];
    let run = run_env(BIN, &["127.0.0.11", "3306"], &env);
    run.exits(0).stdout_starts_with(&format!("{CRITICAL}consul client configuration: invalid consul address \"http://***@127.0.0.1:8500\""));
    assert!(!run.stdout().contains("s3cret") && !run.stderr().contains("s3cret"), "{run}");
    let text = log_of(dir.path());
    assert!(text.contains("category=BadInput") && text.contains("***@127.0.0.1:8500"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

/// A master address where nothing listens (a killed master), for runs that need no database.
fn dead_master() -> PortLease {
    reserve(host(11))
}

fn dead_run(dir: &Path, port: &PortLease, extra: &[&str]) -> sengu_testsupport::Run {
    let (state, log, port) = (dir.join("state"), dir.join("actions.log"), port.port().to_string());
    // No Consul here: the hold record is not read (`tests/hold.rs` has the runs that obey it).
    let mut args = vec!["127.0.0.11", port.as_str(), "--state-dir", state.to_str().unwrap(), "--log-file", log.to_str().unwrap(), "--hold", "ignore"];
    args.extend_from_slice(extra);
    run(BIN, &args)
}

#[test]
fn a_master_without_known_replicas_is_not_failed_over_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_master();
    for _ in 0..3 {
        dead_run(dir.path(), &port, &[])
            .exits(0)
            .stdout_contains("CRITICAL: master 127.0.0.11:")
            .stdout_contains("(DeadMasterWithoutReplicas: no replica of it is known; when_no_replicas = no-failover): no failover");
    }
    let text = log_of(dir.path());
    let last = text.lines().last().unwrap();
    assert!(last.contains("monitor=\"unreachable: mysql 127.0.0.11:"), "{last}");
    assert!(last.contains("replicas_from=none") && last.contains("consul=off"), "{last}");
}

#[test]
fn the_state_file_carries_the_streak_and_a_corrupt_one_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_master();
    let rule = ["--when-no-replicas", "failover", "--confirm-runs", "3"];
    dead_run(dir.path(), &port, &rule).exits(0).stdout_contains("dead on 1 consecutive runs, 3 needed");
    dead_run(dir.path(), &port, &rule).exits(0).stdout_contains("dead on 2 consecutive runs, 3 needed");
    let state = dir.path().join("state").join(format!("127.0.0.11_{}.json", port.port()));
    std::fs::write(&state, "{ half a file").unwrap();
    dead_run(dir.path(), &port, &rule).exits(0).stdout_contains("dead on 1 consecutive runs, 3 needed");
    let text = log_of(dir.path());
    assert!(text.lines().last().unwrap().contains("is corrupt"), "{text}");
    assert!(std::fs::read_to_string(&state).unwrap().contains("\"dead_runs\": 1"), "the fresh state replaced the corrupt file");
    dead_run(dir.path(), &port, &rule).exits(0);
    dead_run(dir.path(), &port, &rule).exits(2).stdout_contains("confirmed: dead on 3 consecutive runs, 3 needed: failover");
}

#[test]
fn fail_after_holds_a_confirmed_death_back() {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_master();
    let rule = ["--when-no-replicas", "failover", "--confirm-runs", "1", "--fail-after", "1h"];
    dead_run(dir.path(), &port, &rule).exits(0).stdout_contains("dead on 1 consecutive runs, 1 needed, for 0s of 1h: no failover yet");
    dead_run(dir.path(), &port, &rule).exits(0).stdout_contains("dead on 2 consecutive runs, 1 needed, for ");
}

#[test]
fn an_unusable_state_dir_cannot_count_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_master();
    let (log, port_text) = (dir.path().join("actions.log"), port.port().to_string());
    let args = ["127.0.0.11", port_text.as_str(), "--state-dir", "/proc/sengu-no-such-dir", "--log-file", log.to_str().unwrap(), "--when-no-replicas", "failover"];
    for _ in 0..2 {
        run(BIN, &args).exits(0).stdout_contains("dead on 1 consecutive runs, 2 needed");
    }
    let text = log_of(dir.path());
    assert!(text.lines().last().unwrap().contains("note.1=\"cannot create state directory /proc/sengu-no-such-dir"), "{text}");
}

/// `--print-config` shows the merged settings and exits 0 without asking anything.
#[test]
fn print_config_shows_the_merged_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[mysql-fail-check]\nconfirm_runs = 3\nreplicas = [\"10.0.0.12:3306\"]\n").unwrap();
    let run = run_env(BIN, &["10.0.0.11", "3306", "--print-config", "--fail-after", "30s"], &[("SENGU_CONFIG", config.to_str().unwrap())]);
    run.exits(0)
        .stdout_contains("confirm_runs = 3\n")
        .stdout_contains("fail_after = \"30s\"\n")
        .stdout_contains("replicas = [\"10.0.0.12:3306\"]\n");
    assert!(!dir.path().join("actions.log").exists());
}

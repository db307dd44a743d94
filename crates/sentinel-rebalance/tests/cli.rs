//! `sentinel-rebalance` as Sentinel runs it: help, the seven-argument contract and bad input give
//! the right exit code (never 1 for bad input: Sentinel would retry it ten times).

#[path = "../../redis-master-check/tests/support/mod.rs"]
mod support;

use support::{run, run_env};

const BIN: &str = env!("CARGO_BIN_EXE_sentinel-rebalance");
const SEVEN: [&str; 7] = ["mymaster", "leader", "start", "127.0.0.11", "6379", "127.0.0.12", "6379"];

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
fn not_implemented_exits_two_so_sentinel_does_not_retry() {
    run(BIN, &SEVEN)
        .exits(2)
        .stdout_starts_with("sentinel-rebalance: not implemented: would move sentinels after mymaster moved from 127.0.0.11:6379 to 127.0.0.12:6379 (leader call)");
    run(BIN, &["reconcile"]).exits(2).stdout_starts_with("sentinel-rebalance: not implemented: ");
    run(BIN, &["status", "--format", "json"]).exits(2).stdout_starts_with("sentinel-rebalance: not implemented: ");
}

#[test]
fn settings_come_from_the_environment_sentinel_passes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("actions.log");
    run_env(BIN, &SEVEN, &[("SENGU_LOG_FILE", log.to_str().unwrap())]).exits(2);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" program=sentinel-rebalance ") && text.contains(" action=not-implemented "), "{text}");
}

//! `sengu-drill` as an operator types it, without a lab: help, and bad input that exits 2
//! with a message before anything is touched.

use sengu_testsupport::{run, run_env};

const BIN: &str = env!("CARGO_BIN_EXE_sengu-drill");

#[test]
fn help_names_the_subcommands_and_the_exit_codes() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("redis")
        .stdout_contains("mysql")
        .stdout_contains("history")
        .stdout_contains("0  every round passed every invariant")
        .stdout_contains("2  refused to start");
    run(BIN, &["redis", "--help"]).exits(0).stdout_contains("[env: SENGU_SENTINELS=]").stdout_contains("--catch-up-timeout");
}

#[test]
fn bad_input_exits_two_with_a_message() {
    run(BIN, &[]).exits(2);
    run(BIN, &["redis", "--service", "redis"]).exits(2).stderr_contains("--sentinel");
    run(BIN, &["redis", "--sentinel", "127.0.0.1", "--service", "redis"]).exits(2).stderr_contains("missing port");
    run(BIN, &["redis", "--sentinel", "127.0.0.1:1", "--service", "redis", "--rounds", "0"]).exits(2);
    run(BIN, &["mysql", "--node", "db"]).exits(2).stderr_contains("--switchover-cmd");
    run(BIN, &["mysql", "--service", "m", "--table", "x", "--switchover-cmd", "true"]).exits(2).stdout_contains("invalid table \"x\"");
}

#[test]
fn a_drill_whose_sentinels_do_not_answer_refuses_to_start() {
    let lease = testbed::reserve(testbed::host(11));
    let nobody = format!("127.0.0.11:{}", lease.port());
    // A sentinel that is configured but down, and Consul nowhere: refused, exit 2, nothing stored.
    let consul = format!("127.0.0.11:{}", testbed::reserve(testbed::host(11)).port());
    let out = run(BIN, &["redis", "--sentinel", &nobody, "--service", "redis", "--consul-addr", &consul, "--no-history"]);
    out.exits(2).stdout_starts_with("REFUSED: redis drill of \"redis\" did not start, nothing was changed: no sentinel answered: ").stdout_contains("connection refused");
}

/// `sengu-drill history --timeout 2s` against a Consul agent that never answers printed what
/// was left of the deadline to the nanosecond (`1s 999ms 884us 99ns`); durations are rounded
/// to what matters.
#[test]
fn history_against_a_hung_consul_names_a_human_duration() {
    let consul = consul_standin::Standin::builder().agent("a", testbed::host(11)).start().unwrap();
    consul.pause_agent("a").unwrap();
    let url = consul.http_url("a").unwrap();
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let out = run(BIN, &["history", "--consul-addr", &url, "--timeout", "2s"]);
    out.exits(2).stdout_starts_with(&format!("sengu-drill: consul at {addr} did not answer GET /v1/kv/sengu/drills/ within 2.0s\n"));
}

/// `--print-config` shows the merged drill settings, the switchover command redacted, and runs
/// nothing: the command given would fail if it ran.
#[test]
fn print_config_shows_the_merged_settings_and_redacts_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[drill]\nprobe_interval = \"20ms\"\nswitchover_timeout = \"90s\"\n").unwrap();
    let args = ["mysql", "--node", "db", "--print-config", "--switchover-cmd", "/nonexistent/switch", "--master=root:s3cret@10.0.0.1:3306"];
    let run = run_env(BIN, &args, &[("SENGU_CONFIG", config.to_str().unwrap())]);
    run.exits(0)
        .stdout_contains("probe = \"20ms\"\n")
        .stdout_contains("step = \"1m 30s\"\n")
        .stdout_contains("switchover = \"/nonexistent/switch --master=root:***@10.0.0.1:3306\"\n");
    assert!(!run.stdout().contains("s3cret"), "{run}");
}

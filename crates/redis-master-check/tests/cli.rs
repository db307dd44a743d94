//! `redis-master-check` as Consul runs it: help, bad arguments and settings give the right exit
//! code and message; until the check exists every run is CRITICAL (exit 2), never passing.

#[path = "support/mod.rs"]
mod support;

use support::{run, run_env};

const BIN: &str = env!("CARGO_BIN_EXE_redis-master-check");

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"]).exits(0).stdout_contains("Called by: Consul").stdout_contains("2  critical");
}

#[test]
fn missing_arguments_exit_two_with_a_message() {
    run(BIN, &["--redis", "127.0.0.1:6379"]).exits(2).stderr_contains("--service <NAME>").stdout_is_empty();
}

#[test]
fn an_unexpected_argument_exits_two() {
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "extra"]).exits(2).stderr_contains("unexpected argument 'extra'");
}

#[test]
fn a_malformed_address_exits_two_with_a_message() {
    run(BIN, &["--redis", "127.0.0.1:http", "--service", "redis"]).exits(2).stderr_contains("invalid port \"http\"");
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--sentinel", "127.0.0.1"])
        .exits(2)
        .stderr_contains("missing port");
}

#[test]
fn not_implemented_is_critical_and_says_what_it_would_check() {
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis"])
        .exits(2)
        .stdout_starts_with("CRITICAL: not implemented: would check that redis 127.0.0.1:6379 is the master of service \"redis\"\n")
        .output_fits_consul();
}

#[test]
fn json_format_keeps_the_exit_code() {
    let run = run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--format", "json"]);
    run.exits(2);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(json["status"], "critical", "{run}");
    assert_eq!(json["exit_code"], 2, "{run}");
}

#[test]
fn the_timeout_flag_beats_the_environment() {
    let args = ["--redis", "127.0.0.1:6379", "--service", "redis"];
    run_env(BIN, &args, &[("SENGU_TIMEOUT", "3s")]).exits(2).stdout_contains("timeout: 3s");
    let with_flag = [&args[..], &["--timeout", "1s"]].concat();
    run_env(BIN, &with_flag, &[("SENGU_TIMEOUT", "3s")]).exits(2).stdout_contains("timeout: 1s");
    run(BIN, &args).exits(2).stdout_contains("timeout: 5s");
}

fn check_with_config(config: &std::path::Path) -> support::Run {
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--config", config.to_str().unwrap()])
}

#[test]
fn config_file_errors_are_critical_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[redis-master]\n").unwrap();
    check_with_config(&typo)
        .exits(2)
        .stdout_starts_with(&format!("CRITICAL: unknown table [redis-master] in {}, line 1", typo.display()));

    let key = dir.path().join("key.toml");
    std::fs::write(&key, "[consul]\nadress = \"127.0.0.1:8500\"\n").unwrap();
    check_with_config(&key)
        .exits(2)
        .stdout_starts_with(&format!("CRITICAL: unknown key \"adress\" in [consul] of {}, line 2", key.display()));

    let missing = dir.path().join("missing.toml");
    check_with_config(&missing).exits(2).stdout_starts_with(&format!("CRITICAL: cannot read config file {}: ", missing.display()));
}

#[test]
fn consul_address_comes_from_flag_then_environment_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[consul]\naddr = \"file:8500\"\n").unwrap();
    let config = config.to_str().unwrap();
    let base = ["--redis", "127.0.0.1:6379", "--service", "redis", "--config", config];
    run(BIN, &base).exits(2).stdout_contains("consul: file:8500");
    run_env(BIN, &base, &[("CONSUL_HTTP_ADDR", "env:8500")]).exits(2).stdout_contains("consul: env:8500");
    let with_flag = [&base[..], &["--consul-addr", "flag:8500"]].concat();
    run_env(BIN, &with_flag, &[("CONSUL_HTTP_ADDR", "env:8500")]).exits(2).stdout_contains("consul: flag:8500");
    run(BIN, &base[..4]).exits(2).stdout_contains("consul: default");
}

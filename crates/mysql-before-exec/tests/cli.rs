//! `mysql-before-exec` as mysqlfailover runs it: help, wrong argument counts and malformed
//! addresses exit 2 with a message and change nothing; the action log records each run.

#[path = "../../redis-master-check/tests/support/mod.rs"]
mod support;

use support::{run, run_env};

const BIN: &str = env!("CARGO_BIN_EXE_mysql-before-exec");
const FOUR: [&str; 4] = ["127.0.0.11", "3306", "127.0.0.12", "3306"];

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"]).exits(0).stdout_contains("mysqlfailover --exec-before").stdout_contains("OLD_HOST OLD_PORT NEW_HOST NEW_PORT");
}

#[test]
fn a_wrong_argument_count_exits_two() {
    run(BIN, &FOUR[..3]).exits(2).stderr_contains("4 values required").stdout_is_empty();
    run(BIN, &[&FOUR[..], &["extra"]].concat()).exits(2).stderr_contains("but 5 were provided");
    run(BIN, &[]).exits(2).stderr_contains("required");
}

#[test]
fn a_malformed_address_exits_two_and_logs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("actions.log");
    run_env(BIN, &["127.0.0.11", "3306", "127.0.0.12", "UNKNOWN"], &[("SENGU_LOG_FILE", log.to_str().unwrap())])
        .exits(2)
        .stderr_contains("invalid <NEW_HOST> <NEW_PORT>: invalid port \"UNKNOWN\"");
    run(BIN, &["--old-master", "127.0.0.11", "--new-master", "127.0.0.12:3306"]).exits(2).stderr_contains("missing port");
    assert!(!log.exists(), "bad input must not reach the point of acting");
}

#[test]
fn not_implemented_exits_two_and_says_consul_is_unchanged() {
    run(BIN, &FOUR)
        .exits(2)
        .stdout_starts_with("mysql-before-exec: not implemented: would take 127.0.0.11:3306 out of Consul before the move to 127.0.0.12:3306; Consul is unchanged");
}

/// The full precedence chain for the log file: flag, then environment, then `[log] file`.
#[test]
fn the_log_file_comes_from_flag_then_environment_then_config() {
    let dir = tempfile::tempdir().unwrap();
    let [from_flag, from_env, from_file] = ["flag.log", "env.log", "file.log"].map(|name| dir.path().join(name));
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, format!("[log]\nfile = {:?}\n", from_file.to_str().unwrap())).unwrap();
    let env = [("SENGU_CONFIG", config.to_str().unwrap()), ("SENGU_LOG_FILE", from_env.to_str().unwrap())];

    run_env(BIN, &[&FOUR[..], &["--log-file", from_flag.to_str().unwrap()]].concat(), &env).exits(2);
    run_env(BIN, &FOUR, &env).exits(2);
    run_env(BIN, &FOUR, &env[..1]).exits(2);
    run_env(BIN, &FOUR, &env[..1]).exits(2);

    let lines = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default().lines().count();
    assert_eq!([lines(&from_flag), lines(&from_env), lines(&from_file)], [1, 1, 2]);
    let text = std::fs::read_to_string(&from_file).unwrap();
    assert!(text.contains(" program=mysql-before-exec ") && text.contains(" action=not-implemented old=127.0.0.11:3306 new=127.0.0.12:3306"), "{text}");
}

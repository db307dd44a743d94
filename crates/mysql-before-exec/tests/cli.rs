//! `mysql-before-exec` as mysqlfailover runs it, without a database: help; every kind of bad
//! input exits 2 with a message and leaves Consul and the action log untouched; the action log
//! file comes from flag, environment or config file; an unreachable old master is no error.

use sengu_testsupport::hooks::{assert_refused, Dc, KV_KEY, MOVE_KEY};
use sengu_testsupport::{run, run_env};

use crate::before;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-before-exec");

#[test]
fn help_exits_zero_and_names_the_caller_and_the_exit_codes() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("mysqlfailover --exec-before")
        .stdout_contains("OLD_HOST OLD_PORT NEW_HOST NEW_PORT")
        .stdout_contains("1  Consul unreachable, kept changing or lost its reply")
        .stdout_contains("[env: SENGU_FENCE_OLD_MASTER=]");
}

#[track_caller]
fn refused(dc: &Dc, args: &[&str], extra: &[(&str, &str)], message: &str) {
    assert_refused(before, dc, args, extra, message);
}

#[test]
fn every_bad_input_exits_two_and_touches_nothing() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), Some("127.0.0.12".parse().unwrap()));
    let none: &[(&str, &str)] = &[];
    refused(&dc, &[], none, "required");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12"], none, "4 values required");
    refused(&dc, &["127.0.0.12", "3306"], none, "4 values required");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "3306", "x"], none, "but 5 were provided");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "UNKNOWN"], none, "invalid <NEW_HOST> <NEW_PORT>: invalid port \"UNKNOWN\"");
    refused(&dc, &["127.0.0.11", "33o6", "127.0.0.12", "3306"], none, "invalid <OLD_HOST> <OLD_PORT>: invalid port \"33o6\"");
    refused(&dc, &["127.0.0.11", "0", "127.0.0.12", "3306"], none, "invalid port \"0\"");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "70000"], none, "invalid port \"70000\"");
    refused(&dc, &["127.0.0.11", "-3306", "127.0.0.12", "3306"], none, "invalid port \"-3306\"");
    refused(&dc, &["", "3306", "127.0.0.12", "3306"], none, "empty host");
    refused(&dc, &["127.0.0.11", "3306", "", "3306"], none, "empty host");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.11", "3306"], none, "the old and the new master are the same server (127.0.0.11:3306)");
    refused(&dc, &["--old-master", "127.0.0.11", "--new-master", "127.0.0.12:3306"], none, "missing port");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "3306"], &[("SENGU_MASTER_NODE", "a b")], "invalid master node \"a b\"");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "3306"], &[("SENGU_FENCE_TIMEOUT", "soon")], "invalid duration \"soon\"");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "3306"], &[("CONSUL_HTTP_TOKEN_FILE", "/nonexistent/token")], "cannot read token file");
}

/// A FIFO or `/dev/zero` as the config file, the Consul token file or the MySQL option file
/// once blocked the hook forever or read until the OOM killer ended it: now bad input, refused
/// at once (exit 2, nothing touched).
#[test]
fn a_fifo_or_dev_zero_as_config_token_or_option_file_is_refused_at_once() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), Some("127.0.0.12".parse().unwrap()));
    let fifo = dc.dir().join("fifo");
    sengu_testsupport::stuck_fifo(&fifo, std::time::Duration::from_secs(5));
    let fifo = fifo.to_str().unwrap();
    let args = ["127.0.0.11", "3306", "127.0.0.12", "3306"];
    for path in [fifo, "/dev/zero"] {
        let kind = if path == fifo { "a fifo" } else { "a character device" };
        let started = std::time::Instant::now();
        refused(&dc, &args, &[("SENGU_CONFIG", path)], &format!("cannot read config file {path}: not a regular file (it is {kind})"));
        refused(&dc, &args, &[("CONSUL_HTTP_TOKEN_FILE", path)], &format!("cannot read token file {path:?}: not a regular file (it is {kind})"));
        refused(&dc, &args, &[("SENGU_MYSQL_DEFAULTS_FILE", path)], &format!("cannot read mysql option file {path}: not a regular file (it is {kind})"));
        assert!(started.elapsed() < std::time::Duration::from_secs(4), "took {:?}", started.elapsed());
    }
}

/// With nothing listening on the old master's address, fencing reports it and the hook still
/// succeeds: an unreachable old master is probably why the failover happens.
#[test]
fn an_unreachable_old_master_is_reported_not_fenced_and_is_no_error() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), None);
    let lease = testbed::reserve(testbed::host(11));
    let port = lease.port().to_string();
    before(&dc, &["127.0.0.11", &port, "127.0.0.12", "3306"], &[("SENGU_FENCE_OLD_MASTER", "true")])
        .exits(0)
        .stdout_starts_with(&format!("mysql-before-exec: old master 127.0.0.11:{port} taken out of consul at consul index "))
        .stdout_contains(": consul holds no master record\n")
        .stdout_contains(&format!("old master not fenced, it is unreachable: mysql 127.0.0.11:{port} is unreachable"));
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));
    let lines = dc.log_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains(" action=unpublish old=127.0.0.11:") && lines[0].contains(" index="), "{lines:?}");
    assert!(lines[1].contains(" action=fence ") && lines[1].contains(" result=unreachable "), "{lines:?}");
}

/// `UNKNOWN UNKNOWN` is what mysqlfailover passes when it lost the old master's object: the
/// master records still go, and the move is recorded without an old master.
#[test]
fn an_unknown_old_master_still_takes_the_master_records_out() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), None);
    before(&dc, &["UNKNOWN", "UNKNOWN", "127.0.0.12", "3306"], &[("SENGU_FENCE_OLD_MASTER", "1")])
        .exits(0)
        .stdout_starts_with("mysql-before-exec: master records taken out of consul")
        .stdout_contains("old master not fenced: mysqlfailover did not know it (UNKNOWN)");
    assert_eq!(dc.kv_index(KV_KEY), None);
    let record: serde_json::Value = serde_json::from_str(&dc.kv(MOVE_KEY).unwrap()).unwrap();
    assert_eq!((record["old"].clone(), record["new"].clone()), (serde_json::Value::Null, "127.0.0.12:3306".into()));
}

/// The full precedence chain for the log file: flag, then environment, then `[log] file`.
#[test]
fn the_log_file_comes_from_flag_then_environment_then_config() {
    let dc = Dc::new();
    let dir = tempfile::tempdir().unwrap();
    let [from_flag, from_env, from_file] = ["flag.log", "env.log", "file.log"].map(|name| dir.path().join(name));
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, format!("[log]\nfile = {:?}\n", from_file.to_str().unwrap())).unwrap();
    let four = ["127.0.0.11", "3306", "127.0.0.12", "3306"];
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec![("CONSUL_HTTP_ADDR", dc.url())];
        all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_env(BIN, args, &all).exits(0);
    };
    let env = [("SENGU_CONFIG", config.to_str().unwrap()), ("SENGU_LOG_FILE", from_env.to_str().unwrap())];
    run(&[&four[..], &["--log-file", from_flag.to_str().unwrap()]].concat(), &env);
    run(&four, &env);
    run(&four, &env[..1]);
    run(&four, &env[..1]);

    let lines = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default().lines().count();
    assert_eq!([lines(&from_flag), lines(&from_env), lines(&from_file)], [1, 1, 2]);
    let text = std::fs::read_to_string(&from_flag).unwrap();
    assert!(text.contains(" program=mysql-before-exec ") && text.contains(" action=unpublish old=127.0.0.11:3306 new=127.0.0.12:3306"), "{text}");
}

/// Issue 11, defect 3: with a hung system resolver, an old master and a Consul agent given by
/// host name cost the hook its own limits (fence timeout, run budget), not glibc's 10 s.
#[test]
fn a_hung_resolver_costs_fencing_and_consul_only_their_own_budget() {
    let resolver = testbed::resolver::HungResolver::start();
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), None);
    let env = dc.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend([("SENGU_FENCE_OLD_MASTER", "true"), ("SENGU_FENCE_TIMEOUT", "1s")]);
    let args = ["db1.example", "3306", "127.0.0.12", "3306"];
    let limit = std::time::Duration::from_millis(3500);
    sengu_testsupport::run_with_resolver(&resolver, limit, BIN, &args, &env)
        .exits(0)
        .stdout_contains("old master not fenced, it is unreachable: mysql db1.example:3306 did not answer within ")
        .stdout_contains("(its name \"db1.example\" did not resolve within 1.0s)");

    env.extend([("CONSUL_HTTP_ADDR", "consul.example:8500"), ("SENGU_TIMEOUT", "2s"), ("SENGU_FENCE_OLD_MASTER", "false")]);
    let snapshot = dc.snapshot();
    sengu_testsupport::run_with_resolver(&resolver, limit, BIN, &args, &env).exits(1).stdout_contains("consul at consul.example:8500");
    assert_eq!(dc.snapshot(), snapshot);
}

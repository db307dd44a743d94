//! `redis-master-check` as Consul runs it: help, bad arguments and settings give the right exit
//! code and a clear message, and where each setting comes from (flag > environment > config
//! file > default) shows in what the check does.

use sengu_testsupport::{run, run_env};
use testbed::host;

use crate::scenario::{black_hole, dead_port};

const BIN: &str = env!("CARGO_BIN_EXE_redis-master-check");

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("Called by: Consul")
        .stdout_contains("2  critical")
        .stdout_contains("[env: SENGU_SENTINELS=]")
        .stdout_contains("REDISCLI_AUTH");
}

#[test]
fn missing_arguments_exit_two_with_a_message() {
    run(BIN, &["--redis", "127.0.0.1:6379"])
        .exits(2)
        .stderr_contains("--service <NAME> (or SENGU_SERVICE, or service in [redis-master-check])")
        .stdout_is_empty();
    run(BIN, &["--service", "redis"]).exits(2).stderr_contains("--redis <HOST:PORT>").stdout_is_empty();
}

#[test]
fn an_unexpected_argument_exits_two() {
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "extra"]).exits(2).stderr_contains("unexpected argument (a word without an option; not shown, as it may be a secret)");
    // Secrets are never flags.
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--password", "x"]).exits(2).stderr_contains("unexpected argument '--password'");
}

#[test]
fn a_malformed_address_exits_two_with_a_message() {
    run(BIN, &["--redis", "127.0.0.1:http", "--service", "redis"]).exits(2).stderr_contains("invalid port \"http\"");
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--sentinel", "127.0.0.1"]).exits(2).stderr_contains("missing port");
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--dns-server", "consul:8600"])
        .exits(2)
        .stderr_contains("the host must be an IP address")
        .stdout_is_empty();
    run(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--advertise-ip", "10.0.0"]).exits(2).stderr_contains("--advertise-ip");
}

#[test]
fn bad_values_exit_two_with_a_message() {
    let base = ["--redis", "127.0.0.1:6379", "--service", "redis"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    run(BIN, &with(&base, &["--role", "slave"])).exits(2).stderr_contains("invalid value 'slave' for '--role <ROLE>'");
    run(BIN, &with(&base, &["--timeout", "0s"])).exits(2).stderr_contains("must be more than zero");
    run(BIN, &with(&base, &["--max-lag", "soon"])).exits(2).stderr_contains("--max-lag <SECONDS>");
    run(BIN, &with(&base, &["--master-tag", "same", "--replica-tag", "same"])).exits(2).stderr_contains("must be two different, non-empty tags");
    run(BIN, &with(&base, &["--format", "yaml"])).exits(2).stderr_contains("invalid value 'yaml'");
}

#[test]
fn a_redis_that_cannot_be_reached_is_critical_in_text_and_json() {
    let (_lease, addr) = dead_port(host(11));
    let args = ["--redis", &addr.to_string(), "--service", "redis", "--advertise-ip", "127.0.0.11"].map(str::to_string);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(BIN, &args).exits(2).stdout_starts_with(&format!("CRITICAL: redis {addr} is unreachable: connection refused\n")).output_fits_consul();
    let json_args = [&args[..], &["--format", "json"]].concat();
    let json = run(BIN, &json_args);
    json.exits(2);
    let value: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert_eq!(value["status"], "critical", "{json}");
    assert_eq!(value["exit_code"], 2, "{json}");
    assert_eq!(value["summary"], format!("redis {addr} is unreachable: connection refused"));
}

#[test]
fn the_timeout_flag_beats_the_environment_and_the_file() {
    // A server that accepts and never answers: the message names the per-step timeout,
    // 40 % of half the budget.
    let (_lease, hole) = black_hole(host(11));
    let hole = hole.local_addr().unwrap().to_string();
    let args = ["--redis", hole.as_str(), "--service", "redis", "--advertise-ip", "127.0.0.11", "--role", "replica"];
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[redis-master-check]\ntimeout = \"1500ms\"\n").unwrap();
    let config = config.to_str().unwrap();
    run(BIN, &args).exits(2).stdout_starts_with(&format!("CRITICAL: redis {hole} did not answer within 400ms\n"));
    run_env(BIN, &args, &[("SENGU_CONFIG", config)]).exits(2).stdout_contains("did not answer within 300ms");
    run_env(BIN, &args, &[("SENGU_CONFIG", config), ("SENGU_TIMEOUT", "1s")]).exits(2).stdout_contains("did not answer within 200ms");
    let with_flag = [&args[..], &["--timeout", "500ms"]].concat();
    run_env(BIN, &with_flag, &[("SENGU_CONFIG", config), ("SENGU_TIMEOUT", "1s")]).exits(2).stdout_contains("did not answer within 100ms");
}

fn check_with_config(config: &std::path::Path) -> sengu_testsupport::Run {
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

    let own = dir.path().join("own.toml");
    std::fs::write(&own, "[redis-master-check]\nsentinels = [\"10.0.0.1\"]\n").unwrap();
    check_with_config(&own).exits(2).stdout_starts_with("CRITICAL: invalid value for \"sentinels[0]\" in [redis-master-check]");

    let missing = dir.path().join("missing.toml");
    check_with_config(&missing).exits(2).stdout_starts_with(&format!("CRITICAL: cannot read config file {}: ", missing.display()));
}

#[test]
fn the_config_file_alone_can_set_everything() {
    let (_lease, addr) = dead_port(host(11));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(
        &config,
        format!("[redis-master-check]\nredis = \"{addr}\"\nservice = \"cache\"\nadvertise_ip = \"127.0.0.11\"\nrole = \"replica\"\n"),
    )
    .unwrap();
    run_env(BIN, &[], &[("SENGU_CONFIG", config.to_str().unwrap())])
        .exits(2)
        .stdout_starts_with(&format!("CRITICAL: redis {addr} is unreachable: connection refused\n"));
}

#[test]
fn consul_address_comes_from_flag_then_environment_then_file() {
    // Without --advertise-ip and with a loopback --redis, the check asks the agent who it is;
    // the message names the agent it asked.
    let (_lease, redis) = dead_port(host(1));
    let redis = redis.to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[consul]\naddr = \"127.0.0.1:1\"\n").unwrap();
    let config = config.to_str().unwrap();
    let base = ["--redis", redis.as_str(), "--service", "redis", "--config", config];
    run(BIN, &base).exits(2).stdout_contains("consul at 127.0.0.1:1 is unreachable");
    run_env(BIN, &base, &[("CONSUL_HTTP_ADDR", "127.0.0.1:2")]).exits(2).stdout_contains("consul at 127.0.0.1:2 is unreachable");
    let with_flag = [&base[..], &["--consul-addr", "127.0.0.1:3"]].concat();
    run_env(BIN, &with_flag, &[("CONSUL_HTTP_ADDR", "127.0.0.1:2")]).exits(2).stdout_contains("consul at 127.0.0.1:3 is unreachable");
    run(BIN, &with_flag[..4]).exits(2).stdout_contains("consul at 127.0.0.1:8500");
}

/// Issue 11, defect 6: a service, datacenter, domain or tag that cannot be part of a DNS name
/// is bad input (exit 2), also with sentinels configured, where it used to give 1 or even 0.
#[test]
fn names_that_cannot_be_dns_labels_exit_two() {
    let base = ["--redis", "127.0.0.1:6379", "--sentinel", "127.0.0.1:26379", "--advertise-ip", "127.0.0.11"];
    for (flag, value) in [
        ("--service", "red is"),
        ("--service", "redis/x"),
        ("--datacenter", "dc.1"),
        ("--domain", "consul..local"),
        ("--master-tag", "pri mary"),
        ("--replica-tag", "ré"),
    ] {
        let service: &[&str] = if flag == "--service" { &[] } else { &["--service", "redis"] };
        let args = [&base[..], service, &[flag, value]].concat();
        run(BIN, &args).exits(2).stderr_contains(&format!("invalid value {value:?} for '{flag} <")).stdout_is_empty();
    }
}

/// `user:password@` in `CONSUL_HTTP_ADDR` was echoed in the check's output (which Consul
/// stores) and shown by `--help`. The address is refused without the secret.
#[test]
fn user_info_in_consul_http_addr_never_reaches_the_output() {
    let env = [("CONSUL_HTTP_ADDR", "http://sengu:s3cret-pw@127.0.0.1:8500")];
    let run = run_env(BIN, &["--redis", "127.0.0.1:6379", "--service", "redis"], &env);
    run.exits(2).stdout_starts_with("CRITICAL: consul client configuration: invalid consul address \"http://***@127.0.0.1:8500\": user info is not allowed");
    assert!(!run.stdout().contains("s3cret") && !run.stderr().contains("s3cret"), "{run}");
    let help = run_env(BIN, &["--help"], &env);
    help.exits(0);
    assert!(!help.stdout().contains("s3cret"), "{help}");
}

/// A FIFO or `/dev/zero` as the config file blocked the check until Consul killed it, or read
/// until memory ran out: now CRITICAL (exit 2) at once, naming the file.
#[test]
fn a_fifo_or_dev_zero_as_config_is_critical_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    sengu_testsupport::stuck_fifo(&fifo, std::time::Duration::from_secs(5));
    let fifo = fifo.to_str().unwrap();
    for (path, kind) in [(fifo, "a fifo"), ("/dev/zero", "a character device")] {
        sengu_testsupport::run_env_within(std::time::Duration::from_secs(3), BIN, &["--redis", "127.0.0.1:6379", "--service", "redis", "--config", path], &[])
            .exits(2)
            .stdout_starts_with(&format!("CRITICAL: cannot read config file {path}: not a regular file (it is {kind})"));
    }
}

/// `--print-config` shows what a run would use (flag > variable > file > default), with the
/// Redis password and the Consul token as `<set>`, and asks nothing: no Redis runs here.
#[test]
fn print_config_shows_the_merged_settings_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, "[redis-master-check]\nrole = \"auto\"\nmax_lag = 7\nsentinels = [\"10.0.0.1:26379\"]\n").unwrap();
    let env = [("SENGU_CONFIG", config.to_str().unwrap()), ("REDISCLI_AUTH", "redis-pw-123"), ("CONSUL_HTTP_TOKEN", "tok-456"), ("SENGU_ROLE", "replica")];
    let run = run_env(BIN, &["--redis", "127.0.0.1:1", "--service", "cache", "--print-config", "--timeout", "3s"], &env);
    run.exits(0)
        .stdout_contains("mode = \"replica\"\n")
        .stdout_contains("max_lag = \"7s\"\n")
        .stdout_contains("sentinels = [\"10.0.0.1:26379\"]\n")
        .stdout_contains("timeout = \"3s\"\n")
        .stdout_contains("password = \"<set>\"\n")
        .stdout_contains("token = \"<set>\"\n");
    assert!(!run.stdout().contains("redis-pw-123") && !run.stdout().contains("tok-456"), "{run}");
}

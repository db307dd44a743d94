//! `mysql-after-exec` as mysqlfailover and mysqlrpladmin run it, without a database: help, and
//! every kind of bad input (two or four arguments only, malformed addresses, the same server
//! twice, bad settings) exits 2 with a message and leaves Consul and the action log untouched.

use sengu_testsupport::hooks::{assert_refused, Dc};
use sengu_testsupport::run;

use crate::after;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-after-exec");

#[test]
fn help_exits_zero_and_names_the_caller_and_the_exit_codes() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("mysqlfailover --exec-after")
        .stdout_contains("two after a mysqlrpladmin switchover")
        .stdout_contains("3  the new master failed verification")
        .stdout_contains("[env: SENGU_KV_FORMAT=]");
}

#[track_caller]
fn refused(dc: &Dc, args: &[&str], extra: &[(&str, &str)], message: &str) {
    assert_refused(after, dc, args, extra, message);
}

#[test]
fn every_bad_input_exits_two_and_touches_nothing() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), Some("127.0.0.12".parse().unwrap()));
    let none: &[(&str, &str)] = &[];
    refused(&dc, &[], none, "required");
    refused(&dc, &["127.0.0.12"], none, "only 1 was provided");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12"], none, "got 3 arguments");
    refused(&dc, &["127.0.0.11", "3306", "127.0.0.12", "3306", "x"], none, "unexpected value 'x'");
    refused(&dc, &["127.0.0.12", "33o6"], none, "invalid <NEW_HOST> <NEW_PORT>: invalid port \"33o6\"");
    refused(&dc, &["127.0.0.12", "0"], none, "invalid port \"0\"");
    refused(&dc, &["127.0.0.12", "65536"], none, "invalid port \"65536\"");
    refused(&dc, &["127.0.0.11", "-1", "127.0.0.12", "3306"], none, "invalid port \"-1\"");
    refused(&dc, &["", "3306"], none, "empty host");
    refused(&dc, &["127.0.0.11", "3306", "", "3306"], none, "empty host");
    refused(&dc, &["bad host", "3306", "127.0.0.12", "3306"], none, "invalid <OLD_HOST> <OLD_PORT>: invalid host \"bad host\"");
    refused(&dc, &["127.0.0.12", "3306", "127.0.0.12", "3306"], none, "the old and the new master are the same server (127.0.0.12:3306)");
    refused(&dc, &["--new-master", "127.0.0.12"], none, "missing port");
    refused(&dc, &["127.0.0.12", "3306", "--kv-format", "yaml"], none, "invalid value 'yaml'");
    refused(&dc, &["127.0.0.12", "3306"], &[("SENGU_WAIT_DNS", "localhost:8600")], "invalid wait_dns \"localhost:8600\": expected IP:PORT");
    refused(&dc, &["127.0.0.12", "3306"], &[("SENGU_KV_KEY", "/abs")], "invalid kv key \"/abs\"");
    // Issue 11, defect 7: checked before anything is published, not when the wait begins.
    let bad_name = ["127.0.0.12", "3306", "--wait-dns", "127.0.0.1:8600", "--wait-dns-name", "db master.consul"];
    refused(&dc, &bad_name, none, "invalid wait_dns_name \"db master.consul\": expected a DNS name");
    refused(&dc, &["127.0.0.12", "3306"], &[("CONSUL_HTTP_ADDR", "xyz://h:1")], "unknown protocol scheme: xyz");
    refused(&dc, &["127.0.0.12", "3306"], &[("SENGU_MYSQL_DEFAULTS_FILE", "/nonexistent/sengu.cnf")], "mysql credentials: ");
    let config = dc.dir().join("bad.toml");
    std::fs::write(&config, "[mysql-hooks]\nmaster_nod = \"x\"\n").unwrap();
    refused(&dc, &["127.0.0.12", "3306"], &[("SENGU_CONFIG", config.to_str().unwrap())], "unknown key \"master_nod\" in [mysql-hooks]");
}

/// `--print-config` shows what a run would use, from flags, variables, the config file and the
/// defaults, with the password as `<set>`; it asks nothing and changes nothing.
#[test]
fn print_config_shows_the_merged_settings_and_hides_secrets() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), None);
    let snapshot = dc.snapshot();
    let config = dc.dir().join("sengu.toml");
    std::fs::write(&config, "[mysql-hooks]\nmaster_node = \"db-master\"\nkv_format = \"json\"\nmake_writable = true\n").unwrap();
    let config = config.to_str().unwrap();
    let run = after(&dc, &["127.0.0.12", "3306", "--print-config", "--make-writable=false"], &[("SENGU_CONFIG", config), ("SENGU_MYSQL_TIMEOUT", "1500ms")]);
    run.exits(0)
        .stdout_contains("make_writable = false\n")
        .stdout_contains("kv_format = \"json\"\n")
        .stdout_contains("master_node = \"db-master\"\n")
        .stdout_contains("connect = \"1s 500ms\"\n")
        .stdout_contains("password = \"<set>\"\n");
    assert!(!run.stdout().contains(testbed::mariadb::MONITOR_PASSWORD), "{run}");
    assert_eq!(dc.snapshot(), snapshot, "print-config changed consul");
    assert!(dc.log_lines().is_empty(), "print-config wrote the action log");
}

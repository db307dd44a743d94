//! `mysql-after-exec` as mysqlfailover and mysqlrpladmin run it: two or four arguments, anything
//! else or a malformed address exits 2 with a message and changes nothing.

#[path = "../../redis-master-check/tests/support/mod.rs"]
mod support;

use support::run;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-after-exec");

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"]).exits(0).stdout_contains("mysqlfailover --exec-after").stdout_contains("two after a mysqlrpladmin switchover");
}

#[test]
fn a_wrong_argument_count_exits_two() {
    run(BIN, &["127.0.0.12"]).exits(2).stderr_contains("only 1 was provided").stdout_is_empty();
    run(BIN, &["127.0.0.11", "3306", "127.0.0.12"]).exits(2).stderr_contains("got 3 arguments");
    run(BIN, &["a", "1", "b", "2", "c"]).exits(2).stderr_contains("unexpected value 'c'");
}

#[test]
fn a_malformed_address_exits_two() {
    run(BIN, &["127.0.0.12", "0"]).exits(2).stderr_contains("invalid <NEW_HOST> <NEW_PORT>: invalid port \"0\"");
    run(BIN, &["bad host", "3306", "127.0.0.12", "3306"]).exits(2).stderr_contains("invalid <OLD_HOST> <OLD_PORT>: invalid host \"bad host\"");
}

#[test]
fn not_implemented_exits_two_for_failover_and_switchover() {
    run(BIN, &["127.0.0.11", "3306", "127.0.0.12", "3306"])
        .exits(2)
        .stdout_starts_with("mysql-after-exec: not implemented: would check that 127.0.0.12:3306 is writable and publish it in Consul (old master: 127.0.0.11:3306)");
    run(BIN, &["127.0.0.12", "3306"]).exits(2).stdout_contains("(old master: unknown (switchover))");
}

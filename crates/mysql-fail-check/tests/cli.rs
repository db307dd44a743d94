//! `mysql-fail-check` as mysqlfailover runs it: help, wrong argument counts and malformed
//! addresses exit 2 with a message.

#[path = "../../redis-master-check/tests/support/mod.rs"]
mod support;

use support::run;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-fail-check");

#[test]
fn help_exits_zero_and_names_the_caller() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("mysqlfailover --exec-fail-check")
        .stdout_contains("Any non-zero exit starts a failover");
}

#[test]
fn a_wrong_argument_count_exits_two() {
    run(BIN, &["127.0.0.11"]).exits(2).stderr_contains("<OLD_PORT>").stdout_is_empty();
    run(BIN, &["127.0.0.11", "3306", "extra"]).exits(2).stderr_contains("unexpected argument 'extra'");
}

#[test]
fn a_malformed_address_exits_two() {
    run(BIN, &["127.0.0.11", "3306x"]).exits(2).stderr_contains("invalid <OLD_HOST> <OLD_PORT>: invalid port \"3306x\"");
}

#[test]
fn not_implemented_exits_two() {
    run(BIN, &["127.0.0.11", "3306"])
        .exits(2)
        .stdout_starts_with("mysql-fail-check: not implemented: would check whether 127.0.0.11:3306 is down");
}

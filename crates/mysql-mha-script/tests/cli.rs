//! `mysql-mha-script` as MHA calls it: help; bad input and anything MHA does not send exit 2
//! and leave Consul and the action log untouched, without echoing a password; `status`
//! passes only when Consul names MHA's master and it is a writable master.

use sengu_testsupport::hooks::{assert_refused, writable_master, Dc};
use sengu_testsupport::run;

use crate::{script, BIN};

#[test]
fn help_names_both_mha_settings_and_the_exit_codes() {
    run(BIN, &["--help"])
        .exits(0)
        .stdout_contains("master_ip_failover_script and master_ip_online_change_script")
        .stdout_contains("--orig_master_host <HOST>")
        .stdout_contains("10 published, but --wait-dns did not see the new address in time (MHA proceeds)")
        .stdout_contains("perl -X");
}

#[test]
fn every_bad_input_exits_two_touches_nothing_and_shows_no_password() {
    let dc = Dc::new();
    dc.seed("127.0.0.11".parse().unwrap(), Some("127.0.0.12".parse().unwrap()));
    let none: &[(&str, &str)] = &[];
    let stop = ["--command=stop", "--orig_master_host=127.0.0.11", "--orig_master_port=3306"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { stop.iter().copied().chain(extra.iter().copied()).collect() };
    assert_refused(script, &dc, &[], none, "required");
    assert_refused(script, &dc, &["--command=reboot", "--orig_master_host=127.0.0.11", "--orig_master_port=3306"], none, "invalid value 'reboot'");
    assert_refused(script, &dc, &with(&["--orig_master_hots=x"]), none, "unexpected argument '--orig_master_hots'");
    assert_refused(script, &dc, &with(&["--new_master_host=127.0.0.12"]), none, "go together");
    assert_refused(script, &dc, &["--command=start", "--orig_master_host=127.0.0.11", "--orig_master_port=3306"], none, "--new_master_host and --new_master_port are required");
    assert_refused(script, &dc, &["--command=stop", "--orig_master_host=127.0.0.11", "--orig_master_port=x"], none, "invalid --orig_master_host/--orig_master_port");
    assert_refused(script, &dc, &with(&[]), &[("SENGU_MASTER_NODE", "a b")], "invalid master node \"a b\"");
    // A password MHA did not escape splits into a stray word: refused, and never echoed.
    let split = with(&["--orig_master_password=half", "of-a-s3cret"]);
    assert_refused(script, &dc, &split, none, "not shown, as it may be a secret");
    let out = script(&dc, &split, none);
    assert!(!out.stderr().contains("s3cret") && !out.stdout().contains("s3cret"), "{out}");
}

#[test]
fn status_passes_only_when_consul_names_a_writable_master() {
    let dc = Dc::new();
    let master = writable_master(11);
    let [host, port] = sengu_testsupport::hooks::hook_args(&master);
    let (host_arg, port_arg) = (format!("--orig_master_host={host}"), format!("--orig_master_port={port}"));
    let status = ["--command=status", "--ssh_user=root", &host_arg, &port_arg];
    let none: &[(&str, &str)] = &[];

    script(&dc, &status, none).exits(7).stdout_contains("consul holds no master record, not MHA's master");
    dc.seed(master.host(), None);
    let snapshot = dc.snapshot();
    script(&dc, &status, none).exits(0).stdout_contains(&format!("consul's master record names {host}, and {host}:{port} is a writable master"));
    master.set_read_only(true);
    script(&dc, &status, none).exits(7).stdout_contains("is not writable: read_only is ON");
    assert_eq!(dc.snapshot(), snapshot, "status changes nothing");
}

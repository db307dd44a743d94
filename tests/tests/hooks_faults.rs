//! Both MySQL hooks when Consul misbehaves: Consul refusing connections or hanging (exit 1,
//! nothing changed, a rerun completes), an ACL token missing (exit 4, nothing changed), a
//! transaction's reply lost (re-read, reported as applied). The new master is a real, writable
//! MariaDB. Moved from `mysql-after-exec/tests/faults.rs` because each runs both hooks.

use sengu_testsupport::hooks::{dead_old_master, hook_args, writable_master, Dc, AGENT};
use testbed::host;

use crate::hooks::{after, before};

#[test]
fn consul_refusing_or_hanging_exits_one_changes_nothing_and_a_rerun_completes() {
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let [new_host, new_port] = hook_args(&new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];
    let dc = Dc::new();
    dc.seed(host(11), None);

    dc.standin.refuse_agent(AGENT).unwrap();
    before(&dc, &four, &[])
        .exits(1)
        .stdout_starts_with(&format!("mysql-before-exec: old master {old_host}:{old_port} not taken out of consul: consul at 127.0.0.1:"))
        .stdout_contains("is unreachable")
        .stdout_contains("this run changed nothing in consul; what it holds could not be read (retry is safe)");
    dc.standin.resume_agent(AGENT).unwrap();
    assert_eq!(dc.master_node(), Some(old_host.clone()), "nothing changed");
    before(&dc, &four, &[]).exits(0);

    dc.standin.refuse_agent(AGENT).unwrap();
    after(&dc, &four, &[])
        .exits(1)
        .stdout_starts_with(&format!("mysql-after-exec: {new_host}:{new_port} not published: consul at 127.0.0.1:"))
        .stdout_contains("(retry is safe)");
    // A hung agent: the run's budget bounds the wait.
    dc.standin.resume_agent(AGENT).unwrap();
    dc.standin.pause_agent(AGENT).unwrap();
    let started = std::time::Instant::now();
    after(&dc, &four, &[("SENGU_TIMEOUT", "1s")]).exits(1).stdout_contains("did not answer");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    dc.standin.resume_agent(AGENT).unwrap();
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None), "still as before left it");

    after(&dc, &four, &[]).exits(0).stdout_contains(&format!("consul's master record names {new_host}"));
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host)));
    assert!(dc.log_lines().iter().filter(|l| l.contains(" action=failed ")).count() >= 3, "{:#?}", dc.log_lines());
}

#[test]
fn a_missing_acl_token_exits_four_changes_nothing_and_the_token_fixes_it() {
    const TOKEN: &str = "d7c1b2a0-secret-token";
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let [new_host, new_port] = hook_args(&new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];
    let dc = Dc::with_acl(TOKEN);
    dc.seed(host(11), None);
    let snapshot = dc.snapshot();

    for run in [before(&dc, &four, &[]), after(&dc, &four, &[])] {
        run.exits(4).stdout_contains("(acl): Permission denied").stdout_contains("this run changed nothing in consul");
        assert!(!run.stdout().contains("retry is safe"), "{run}");
    }
    assert_eq!(dc.snapshot(), snapshot);

    let token_file = dc.token_file();
    let with_token = [("CONSUL_HTTP_TOKEN_FILE", token_file.as_str())];
    before(&dc, &four, &with_token).exits(0);
    after(&dc, &four, &with_token).exits(0);
    assert_eq!(dc.master_node(), Some(new_host));
    let log = std::fs::read_to_string(dc.log_path()).unwrap();
    assert!(!log.contains(TOKEN), "the token must never reach the log");
}

/// Issue 11, defect 5: Consul applies the transaction but the reply is lost. The hooks read
/// again and report what Consul holds; the action log never says the change did not happen.
#[test]
fn a_lost_reply_is_re_read_and_reported_as_applied() {
    use consul_standin::LostReply;
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let [new_host, new_port] = hook_args(&new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];
    let dc = Dc::new();
    dc.seed(host(11), None);

    dc.standin.lose_next_reply(AGENT, LostReply::Hang).unwrap();
    before(&dc, &four, &[])
        .exits(0)
        .stdout_contains(&format!("old master {old_host}:{old_port} taken out of consul"))
        .stdout_contains("the reply to the transaction was lost (consul at 127.0.0.1:")
        .stdout_contains("a re-read shows it applied");
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));

    dc.standin.lose_next_reply(AGENT, LostReply::Reset).unwrap();
    after(&dc, &four, &[])
        .exits(0)
        .stdout_contains(&format!("published {new_host}:{new_port} as the master"))
        .stdout_contains("lost the reply to PUT /v1/txn");
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host)));
    let log = dc.log_lines();
    assert!(log.iter().all(|l| !l.contains(" action=failed ")), "{log:#?}");
    assert_eq!(log.iter().filter(|l| l.contains(" action=unpublish ") || l.contains(" action=publish ")).count(), 2, "{log:#?}");
}

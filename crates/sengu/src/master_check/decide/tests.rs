//! The decision table, row by row: one test per row of the module doc's table, plus the
//! replica rows, the failure rows and how action results fold into the outcome.

use super::*;
use crate::check::Format;
use crate::dns::Source;
use crate::redis::{AuthFailure, ServerKind};

const ME: &str = "10.0.0.11:6379";
const OTHER: &str = "10.0.0.12:6379";

fn hp(s: &str) -> HostPort {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn policy(mode: Mode) -> Policy {
    Policy { mode, service: "redis".into(), redis: hp("127.0.0.1:6379"), max_lag: Duration::from_secs(30), fence: false, sentinel_count: None }
}

fn master_info() -> ReplicationInfo {
    ReplicationInfo::parse("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:10\r\n").unwrap()
}

fn replica_info(upstream: &str, link_up: bool, last_io: i64, syncing: bool) -> ReplicationInfo {
    let u = hp(upstream);
    let text = format!(
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{last_io}\r\nmaster_sync_in_progress:{}\r\n{}slave_repl_offset:5\r\n",
        u.host,
        u.port,
        if link_up { "up" } else { "down" },
        u8::from(syncing),
        if link_up { "" } else { "master_link_down_since_seconds:7\r\n" },
    );
    ReplicationInfo::parse(&text).unwrap()
}

fn me_known() -> Identity {
    Identity::Known { ip: ip("10.0.0.11"), source: IdentitySource::Agent }
}

fn replica_me() -> Identity {
    Identity::Known { ip: ip("10.0.0.12"), source: IdentitySource::Flag }
}

fn timeout(addr: &str, kind: ServerKind) -> redis::Error {
    redis::Error::Timeout { kind, addr: hp(addr), after: Duration::from_millis(500) }
}

/// Votes from sentinels s1…: `Some(Some(m))` names m, `Some(None)` does not know the name,
/// `None` did not answer.
fn votes(each: &[Option<Option<&str>>]) -> MasterVotes {
    let mut v = MasterVotes { name: "mymaster".into(), answers: Vec::new(), failures: Vec::new() };
    for (i, e) in each.iter().enumerate() {
        let s = hp(&format!("10.0.0.{}:26379", 21 + i));
        match e {
            Some(m) => v.answers.push((s, m.map(hp))),
            None => v.failures.push((s.clone(), timeout(&s.to_string(), ServerKind::Sentinel))),
        }
    }
    v
}

fn dns(result: Result<Vec<IpAddr>, DnsError>) -> Option<DnsAnswer> {
    Some(DnsAnswer { name: "master.redis.service.consul".into(), result })
}

fn dns_ips(ips: &[&str]) -> Option<DnsAnswer> {
    dns(Ok(ips.iter().map(|s| ip(s)).collect()))
}

fn server() -> Source {
    Source::Server("127.0.0.1:8600".parse().unwrap())
}

fn nxdomain() -> Option<DnsAnswer> {
    dns(Err(DnsError::NxDomain { name: "master.redis.service.consul.".into(), server: server() }))
}

fn dns_timeout() -> Option<DnsAnswer> {
    dns(Err(DnsError::Timeout { name: "master.redis.service.consul.".into(), server: server(), after: Duration::from_millis(750) }))
}

fn obs(local: ReplicationInfo, identity: Identity, sentinels: Option<MasterVotes>, dns: Option<DnsAnswer>) -> Observations {
    Observations { local: Ok(local), replica_state: None, identity, sentinels, dns, named_master: None }
}

/// Decides and finishes without actions; returns the decision and line 1.
fn run(policy: &Policy, o: &Observations) -> (Decision, Outcome) {
    let d = decide(policy, o);
    let outcome = finish(d.clone(), None, None);
    (d, outcome)
}

fn line1(o: &Outcome) -> String {
    o.render(Format::Text).lines().next().unwrap().to_string()
}

fn master_claim(others: Others) -> Option<Claim> {
    Some(Claim::Master { at: hp(ME), others })
}

// Local master, no sentinels: DNS uniqueness decides.

#[test]
fn master_alone_in_dns_passes() {
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), None, dns_ips(&["10.0.0.11"])));
    assert_eq!(line1(&o), "PASSING: redis 10.0.0.11:6379 is the master of redis");
    assert_eq!(d.claim, master_claim(Others::Respect));
    assert_eq!(d.fence, None);
}

#[test]
fn master_with_no_master_in_dns_passes_as_the_only_candidate() {
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), None, nxdomain()));
    assert_eq!(o.status(), Status::Passing);
    assert!(o.render_text().contains("names no master; redis 10.0.0.11:6379 is the only candidate"), "{}", o.render_text());
    assert_eq!(d.claim, master_claim(Others::Respect));
    let no_records = dns(Err(DnsError::NoRecords { name: "x".into(), family: "A", server: server() }));
    let (_, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), None, no_records));
    assert_eq!(o.status(), Status::Passing);
}

#[test]
fn master_while_dns_names_another_is_critical_and_claims_nothing() {
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), None, dns_ips(&["10.0.0.12"])));
    assert_eq!(
        line1(&o),
        "CRITICAL: master.redis.service.consul names another master, 10.0.0.12; redis 10.0.0.11:6379 must not take its place"
    );
    assert_eq!(d.claim, None);
}

#[test]
fn two_masters_in_dns_are_critical_without_sentinels() {
    for ips in [&["10.0.0.11", "10.0.0.12"][..], &["10.0.0.12", "10.0.0.13"][..]] {
        let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), None, dns_ips(ips)));
        assert_eq!(o.status(), Status::Critical);
        assert!(line1(&o).contains("lists 2 masters"), "{}", line1(&o));
        assert_eq!(d.claim, None);
    }
}

#[test]
fn dns_failure_without_sentinels_is_a_warning_never_a_pass() {
    let unreachable = dns(Err(DnsError::Unreachable { server: server(), detail: "connection refused".into() }));
    let servfail = dns(Err(DnsError::ServerFailure { name: "x".into(), server: server(), rcode: "SERVFAIL".into() }));
    for answer in [dns_timeout(), unreachable, servfail] {
        let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), None, answer));
        assert_eq!(o.status(), Status::Warning);
        assert!(line1(&o).starts_with("WARNING: cannot prove that redis 10.0.0.11:6379 is the only master: "), "{}", line1(&o));
        assert_eq!(d.claim, master_claim(Others::Respect), "a warning master keeps its tag");
    }
}

// Local master with sentinels.

#[test]
fn the_sentinels_master_passes_even_while_dns_lists_a_stale_one() {
    let v = votes(&[Some(Some(ME)), Some(Some(ME)), Some(Some(ME))]);
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11", "10.0.0.12"])));
    assert_eq!(line1(&o), "PASSING: redis 10.0.0.11:6379 is the master of redis");
    assert!(o.render_text().contains("3 of 3 sentinels name redis 10.0.0.11:6379 master"));
    assert_eq!(d.claim, master_claim(Others::Demote));
}

#[test]
fn a_majority_of_configured_sentinels_is_enough_when_one_is_down() {
    let v = votes(&[Some(Some(ME)), None, Some(Some(ME))]);
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), Some(v), dns_timeout()));
    assert_eq!(o.status(), Status::Passing, "the sentinels decide; DNS is only a note: {}", o.render_text());
    assert_eq!(d.claim, master_claim(Others::Demote));
}

#[test]
fn a_master_the_sentinels_do_not_name_is_stale_and_critical() {
    let v = votes(&[Some(Some(ME)), Some(Some(OTHER)), Some(Some(OTHER))]);
    let (d, o) = run(&policy(Mode::Auto), &obs(master_info(), me_known(), Some(v.clone()), dns_ips(&["10.0.0.11"])));
    assert_eq!(line1(&o), "CRITICAL: redis 10.0.0.11:6379 is a stale master: 2 of 3 sentinels name 10.0.0.12:6379 master of redis");
    assert_eq!(d.claim, Some(Claim::Replica { at: hp(ME) }));
    assert_eq!(d.fence, None, "fencing is opt-in");
    let fencing = Policy { fence: true, ..policy(Mode::Auto) };
    let mut o = obs(master_info(), me_known(), Some(v), None);
    o.named_master = other_says(Ok(Role::Master { offset: 10, replicas: vec![] }));
    let (d, _) = run(&fencing, &o);
    assert_eq!(d.fence, Some(FencePlan { me: hp(ME), master: hp(OTHER) }));
}

/// What the sentinels' master (`OTHER`) answered to `ROLE`.
fn other_says(role: Result<Role, redis::Error>) -> Option<NamedMaster> {
    Some(NamedMaster { addr: hp(OTHER), role })
}

fn replica_of(master: &str) -> Result<Role, redis::Error> {
    Ok(Role::Replica { master: hp(master), state: "connected".into(), offset: 10 })
}

#[test]
fn a_stale_master_stays_stale_when_the_sentinels_master_confirms_or_cannot_be_asked() {
    // A dead old master must never make a stale master pass: only a denial counts.
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), Some(Some(ME))]);
    let fencing = Policy { fence: true, ..policy(Mode::Auto) };
    let unreachable = redis::Error::Unreachable { kind: ServerKind::Redis, addr: hp(OTHER), detail: "connection refused".into() };
    for (role, detail) in [
        (Some(Ok(Role::Master { offset: 10, replicas: vec![] })), "10.0.0.12:6379 says role:master"),
        (Some(Err(timeout(OTHER, ServerKind::Redis))), "10.0.0.12:6379 cannot confirm it: "),
        (Some(Err(unreachable)), "10.0.0.12:6379 cannot confirm it: "),
        (None, "10.0.0.12:6379 was not asked whether it is master"),
    ] {
        let mut o = obs(master_info(), me_known(), Some(v.clone()), dns_ips(&["10.0.0.11"]));
        o.named_master = role.and_then(other_says);
        let (d, out) = run(&fencing, &o);
        assert_eq!(line1(&out), "CRITICAL: redis 10.0.0.11:6379 is a stale master: 2 of 3 sentinels name 10.0.0.12:6379 master of redis");
        assert!(out.render_text().contains(detail), "{}", out.render_text());
        assert_eq!(d.claim, Some(Claim::Replica { at: hp(ME) }));
    }
}

#[test]
fn a_stale_master_is_fenced_only_once_the_sentinels_master_says_role_master_itself() {
    // The window of a failover from a dead or hung master: this node has just been promoted,
    // the majority still names the old master for about a second, and the old master cannot
    // be asked. Pausing this node's writes would hold the sentinels' hello PUBLISH and the
    // PINGs behind it, so they would call their new master down and fail over away from it.
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), None]);
    let fencing = Policy { fence: true, ..policy(Mode::Auto) };
    let mut o = obs(master_info(), me_known(), Some(v), None);
    o.named_master = other_says(Err(timeout(OTHER, ServerKind::Redis)));
    let (d, out) = run(&fencing, &o);
    assert_eq!(line1(&out), "CRITICAL: redis 10.0.0.11:6379 is a stale master: 2 of 3 sentinels name 10.0.0.12:6379 master of redis");
    assert_eq!(d.fence, None, "an unconfirmed stale verdict must not fence: {}", out.render_text());
    assert!(
        out.render_text().contains("[CRITICAL] fence: stale master 10.0.0.11:6379 not fenced: 10.0.0.12:6379 did not say role:master"),
        "{}",
        out.render_text()
    );
    let (_, out) = run(&policy(Mode::Auto), &o);
    assert!(!out.render_text().contains("fence"), "nothing about fencing without --fence-stale-master: {}", out.render_text());
    // Once it says role:master, the fence goes ahead (and checks the sentinels' listing itself).
    o.named_master = other_says(Ok(Role::Master { offset: 10, replicas: vec![] }));
    let (d, _) = run(&fencing, &o);
    assert_eq!(d.fence, Some(FencePlan { me: hp(ME), master: hp(OTHER) }));
}

#[test]
fn a_fresh_master_whose_predecessor_follows_it_is_not_stale_and_falls_back_to_dns() {
    // The window after a promotion: the sentinels still name the old master, which already
    // replicates from this node. DNS (published by whoever promoted) names only this node.
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), Some(Some(ME))]);
    let fencing = Policy { fence: true, ..policy(Mode::Auto) };
    let mut o = obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11"]));
    o.named_master = other_says(replica_of(ME));
    let (d, out) = run(&fencing, &o);
    assert_eq!(
        line1(&out),
        "WARNING: sentinels cannot arbitrate: 2 of 3 sentinels name 10.0.0.12:6379 master, but it is a replica of this node; they are behind"
    );
    assert!(out.render_text().contains("[PASSING] dns: master.redis.service.consul names only this node"), "{}", out.render_text());
    assert_eq!((d.claim, d.fence), (None, None), "neither fenced nor retagged while the sentinels catch up");
}

#[test]
fn a_denied_sentinel_verdict_is_at_best_what_dns_uniqueness_gives() {
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), Some(Some(OTHER))]);
    let fencing = Policy { fence: true, ..policy(Mode::Master) };
    for (named, answer, status) in [
        (replica_of(ME), nxdomain(), Status::Warning),
        (replica_of("10.0.0.13:6379"), dns_ips(&["10.0.0.11"]), Status::Warning),
        (replica_of(ME), dns_timeout(), Status::Warning),
        (replica_of(ME), dns_ips(&["10.0.0.12"]), Status::Critical),
        (replica_of(ME), dns_ips(&["10.0.0.11", "10.0.0.12"]), Status::Critical),
        (Ok(Role::Sentinel { masters: vec!["mymaster".into()] }), dns_ips(&["10.0.0.11"]), Status::Warning),
    ] {
        let mut o = obs(master_info(), me_known(), Some(v.clone()), answer);
        o.named_master = other_says(named);
        let (d, out) = run(&fencing, &o);
        assert_eq!(out.status(), status, "{}", out.render_text());
        assert!(out.render_text().contains("[WARNING] sentinels: sentinels cannot arbitrate: 3 of 3"), "{}", out.render_text());
        assert_eq!((d.claim, d.fence), (None, None), "{}", out.render_text());
    }
}

#[test]
fn a_denial_from_another_address_than_the_sentinels_master_does_not_count() {
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), Some(Some(ME))]);
    let mut o = obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11"]));
    o.named_master = Some(NamedMaster { addr: hp("10.0.0.13:6379"), role: replica_of(ME) });
    let (_, out) = run(&policy(Mode::Auto), &o);
    assert!(line1(&out).starts_with("CRITICAL: redis 10.0.0.11:6379 is a stale master"), "{}", line1(&out));
}

#[test]
fn one_sentinel_alone_never_arbitrates() {
    // After a partition the stale master's own sentinel may be the only one that answers.
    let v = votes(&[Some(Some(ME)), None, None]);
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11"])));
    assert_eq!(o.status(), Status::Warning);
    assert!(
        line1(&o).starts_with("WARNING: sentinels cannot arbitrate: no master has 2 of the 3 configured sentinels (1 answered; votes: 10.0.0.11:6379 1)"),
        "{}",
        line1(&o)
    );
    assert_eq!(d.claim, master_claim(Others::Respect));
}

#[test]
fn split_sentinels_fall_back_to_dns_uniqueness() {
    let v = votes(&[Some(Some(ME)), Some(Some(OTHER)), None]);
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), Some(v.clone()), dns_ips(&["10.0.0.12"])));
    assert_eq!(o.status(), Status::Critical, "DNS names the other one: {}", o.render_text());
    assert_eq!(d.claim, None);
    let (_, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11"])));
    assert_eq!(o.status(), Status::Warning);
    assert!(o.render_text().contains("sentinel 10.0.0.22:26379: names 10.0.0.12:6379"), "{}", o.render_text());
    let three_ways = votes(&[Some(Some(ME)), Some(Some(OTHER)), Some(Some("10.0.0.13:6379"))]);
    assert!(matches!(arbitrate(Some(&three_ways), None), Arbitration::Unknown { of: 3, .. }));
}

#[test]
fn sentinels_that_do_not_know_the_name_say_so() {
    let v = votes(&[Some(None), Some(None), Some(None)]);
    let (_, o) = run(&policy(Mode::Master), &obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11"])));
    assert_eq!(line1(&o), "WARNING: sentinels cannot arbitrate: none of the 3 sentinels monitors a master named \"mymaster\"");
}

#[test]
fn sentinel_votes_count_each_address_once() {
    let v = votes(&[Some(Some(ME)), Some(Some("10.0.0.11:6379"))]);
    assert_eq!(arbitrate(Some(&v), None), Arbitration::Agreed { master: hp(ME), votes: 2, of: 2 });
    assert_eq!(arbitrate(None, None), Arbitration::NotConfigured);
}

#[test]
fn a_floating_sentinel_listed_at_both_places_counts_once() {
    // sentinel-rebalance moves the third sentinel between two addresses: four are listed, three
    // exist, one place is always empty.
    let v = votes(&[Some(Some(ME)), Some(Some(ME)), None, Some(Some(OTHER))]);
    assert!(matches!(arbitrate(Some(&v), None), Arbitration::Unknown { of: 4, .. }), "2 of 4 listed is no majority");
    assert_eq!(arbitrate(Some(&v), Some(3)), Arbitration::Agreed { master: hp(ME), votes: 2, of: 3 });
    let lone = votes(&[Some(Some(ME)), None, None, None]);
    assert!(matches!(arbitrate(Some(&lone), Some(3)), Arbitration::Unknown { of: 3, .. }));
}

#[test]
fn sentinel_addresses_compare_as_ip_addresses() {
    let v = votes(&[Some(Some("[::ffff:a00:b]:6379")), Some(Some("[::ffff:a00:b]:6379"))]);
    let id = Identity::Known { ip: ip("::ffff:a00:b"), source: IdentitySource::Flag };
    let (_, o) = run(&policy(Mode::Master), &obs(master_info(), id, Some(v), None));
    assert_eq!(o.status(), Status::Passing, "{}", o.render_text());
}

// Who am I, and a Redis that cannot be asked.

#[test]
fn a_master_that_cannot_tell_its_own_address_is_critical() {
    let id = Identity::Unknown { reason: "consul at 127.0.0.1:8500 is unreachable: connection refused, and --redis is not a routable address".into() };
    let (d, o) = run(&policy(Mode::Master), &obs(master_info(), id, None, dns_ips(&["10.0.0.11"])));
    assert_eq!(o.status(), Status::Critical);
    assert!(line1(&o).contains("cannot tell which address redis 127.0.0.1:6379 is published under (consul at 127.0.0.1:8500 is unreachable"));
    assert!(line1(&o).ends_with("set --advertise-ip"));
    assert_eq!(d.claim, None);
}

#[test]
fn a_redis_that_cannot_be_asked_is_critical_in_every_mode() {
    let errors = [
        timeout("127.0.0.1:6379", ServerKind::Redis),
        redis::Error::Unreachable { kind: ServerKind::Redis, addr: hp("127.0.0.1:6379"), detail: "connection refused".into() },
        redis::Error::AuthFailed { kind: ServerKind::Redis, addr: hp("127.0.0.1:6379"), reason: AuthFailure::NoCredentials },
        redis::Error::AuthFailed { kind: ServerKind::Redis, addr: hp("127.0.0.1:6379"), reason: AuthFailure::WrongCredentials },
    ];
    for mode in [Mode::Master, Mode::Replica, Mode::Auto] {
        for e in &errors {
            let o = Observations { local: Err(e.clone()), replica_state: None, identity: me_known(), sentinels: None, dns: nxdomain(), named_master: None };
            let (d, out) = run(&policy(mode), &o);
            assert_eq!(line1(&out), format!("CRITICAL: {e}"));
            assert_eq!((d.claim, d.fence), (None, None));
        }
    }
}

// Roles that do not fit the mode.

#[test]
fn a_replica_in_master_mode_is_critical_but_tagged_replica() {
    let (d, o) = run(&policy(Mode::Master), &obs(replica_info(ME, true, 1, false), replica_me(), None, nxdomain()));
    assert_eq!(line1(&o), "CRITICAL: redis 10.0.0.12:6379 is a replica of 10.0.0.11:6379");
    assert_eq!(d.claim, Some(Claim::Replica { at: hp(OTHER) }));
}

#[test]
fn a_master_in_replica_mode_is_critical_yet_its_tags_follow_the_sentinels() {
    let v = votes(&[Some(Some(ME)), Some(Some(ME)), Some(Some(ME))]);
    let (d, o) = run(&policy(Mode::Replica), &obs(master_info(), me_known(), Some(v), None));
    assert_eq!(line1(&o), "CRITICAL: redis 10.0.0.11:6379 is a master, not a replica");
    assert_eq!(d.claim, master_claim(Others::Demote));
}

// Local replica (modes replica and auto).

#[test]
fn a_healthy_replica_passes_in_replica_and_auto_mode() {
    for mode in [Mode::Replica, Mode::Auto] {
        let (d, o) = run(&policy(mode), &obs(replica_info(ME, true, 1, false), replica_me(), None, nxdomain()));
        assert_eq!(line1(&o), "PASSING: redis 10.0.0.12:6379 is a healthy replica of 10.0.0.11:6379");
        assert_eq!(d.claim, Some(Claim::Replica { at: hp(OTHER) }));
    }
}

#[test]
fn a_syncing_replica_is_a_warning() {
    // During a full sync the link reads "down"; syncing wins.
    let (_, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, false, -1, true), replica_me(), None, None));
    assert_eq!(line1(&o), "WARNING: replica 10.0.0.12:6379 is syncing from 10.0.0.11:6379");
}

#[test]
fn a_replica_in_the_handshake_before_a_sync_is_a_warning_but_one_reconnecting_is_critical() {
    // While the master delays its BGSAVE, INFO says link down and no sync; ROLE says handshake.
    for (state, status) in [("handshake", Status::Warning), ("sync", Status::Warning), ("connect", Status::Critical), ("connecting", Status::Critical)] {
        let mut o = obs(replica_info(ME, false, -1, false), replica_me(), None, None);
        o.replica_state = Some(state.into());
        let (_, out) = run(&policy(Mode::Replica), &o);
        assert_eq!(out.status(), status, "{state}: {}", out.render_text());
    }
}

#[test]
fn a_replica_whose_link_is_down_is_critical() {
    let (d, o) = run(&policy(Mode::Auto), &obs(replica_info(ME, false, -1, false), replica_me(), None, None));
    assert_eq!(line1(&o), "CRITICAL: replica 10.0.0.12:6379 has lost its master 10.0.0.11:6379");
    assert!(o.render_text().contains("master_link_down_since_seconds: 7"));
    assert_eq!(d.claim, Some(Claim::Replica { at: hp(OTHER) }), "still a replica, even a broken one");
}

#[test]
fn a_replica_that_lost_the_master_the_sentinels_still_name_is_a_warning_for_max_lag() {
    // The crash before the sentinels decide: the failover's candidate stays in DNS.
    let named = votes(&[Some(Some(ME)), Some(Some(ME)), None]);
    let (_, o) = run(&policy(Mode::Auto), &obs(replica_info(ME, false, -1, false), replica_me(), Some(named.clone()), None));
    assert_eq!(line1(&o), "WARNING: replica 10.0.0.12:6379 has lost its master 10.0.0.11:6379, which the sentinels still name: a failover may be under way");
    // Down for longer than --max-lag (7 s here), it is critical again.
    let mut p = policy(Mode::Auto);
    p.max_lag = Duration::from_secs(6);
    let (_, o) = run(&p, &obs(replica_info(ME, false, -1, false), replica_me(), Some(named), None));
    assert_eq!(line1(&o), "CRITICAL: replica 10.0.0.12:6379 has lost its master 10.0.0.11:6379");
    // With the master's host, its sentinel died: the one left still naming it is enough.
    let (_, o) = run(&policy(Mode::Auto), &obs(replica_info(ME, false, -1, false), replica_me(), Some(votes(&[Some(Some(ME)), None, None])), None));
    assert_eq!(o.status(), Status::Warning, "{}", o.render_text());
    // A sentinel names another master, or none answers: critical.
    for v in [votes(&[Some(Some("10.0.0.13:6379")), Some(Some(ME)), None]), votes(&[None, None, None])] {
        let (_, o) = run(&policy(Mode::Auto), &obs(replica_info(ME, false, -1, false), replica_me(), Some(v), None));
        assert_eq!(o.status(), Status::Critical, "{}", o.render_text());
    }
}

#[test]
fn a_lagging_replica_is_a_warning_up_to_the_limit_inclusive() {
    let (_, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 31, false), replica_me(), None, None));
    assert_eq!(line1(&o), "WARNING: replica 10.0.0.12:6379 lags behind 10.0.0.11:6379: no data for more than 30s");
    let (_, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 30, false), replica_me(), None, None));
    assert_eq!(o.status(), Status::Passing);
}

#[test]
fn a_replica_of_the_sentinels_master_passes() {
    let v = votes(&[Some(Some(ME)), Some(Some(ME)), None]);
    let (_, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 1, false), replica_me(), Some(v), None));
    assert_eq!(o.status(), Status::Passing);
    assert!(o.render_text().contains("[PASSING] sentinels: 2 of 3 sentinels name 10.0.0.11:6379 master"));
}

#[test]
fn a_replica_of_another_master_than_the_sentinels_is_critical() {
    let v = votes(&[Some(Some("10.0.0.13:6379")), Some(Some("10.0.0.13:6379")), Some(Some(ME))]);
    let (_, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 1, false), replica_me(), Some(v), None));
    assert_eq!(line1(&o), "CRITICAL: replica 10.0.0.12:6379 follows 10.0.0.11:6379, but 2 of 3 sentinels name 10.0.0.13:6379 master");
}

#[test]
fn a_replica_the_sentinels_call_master_is_critical() {
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), None]);
    let (_, o) = run(&policy(Mode::Auto), &obs(replica_info(ME, true, 1, false), replica_me(), Some(v), None));
    assert_eq!(line1(&o), "CRITICAL: 2 of 3 sentinels name redis 10.0.0.12:6379 master, but it is a replica of 10.0.0.11:6379");
}

#[test]
fn a_replica_without_a_sentinel_majority_is_a_warning() {
    let v = votes(&[Some(Some(ME)), None, None]);
    let (_, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 1, false), replica_me(), Some(v), None));
    assert_eq!(o.status(), Status::Warning);
    assert!(line1(&o).starts_with("WARNING: cannot confirm the master of replica 10.0.0.12:6379: no master has 2 of the 3"), "{}", line1(&o));
}

#[test]
fn a_replica_that_cannot_tell_its_address_is_a_warning_and_claims_nothing() {
    let id = Identity::Unknown { reason: "consul at 127.0.0.1:8500 denied GET /v1/agent/self (acl): ACL not found".into() };
    let (d, o) = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 1, false), id, None, None));
    assert_eq!(o.status(), Status::Warning);
    assert!(line1(&o).contains("cannot tell which address redis 127.0.0.1:6379 is published under"));
    assert_eq!(d.claim, None);
}

#[test]
fn line_one_does_not_change_while_the_state_does_not() {
    let a = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 1, false), replica_me(), None, None)).1;
    let b = run(&policy(Mode::Replica), &obs(replica_info(ME, true, 9, false), replica_me(), None, None)).1;
    assert_ne!(a.render_text(), b.render_text(), "details carry the I/O age");
    assert_eq!(line1(&a), line1(&b));
}

// Acting: fencing and publishing fold into the outcome.

fn passing_master() -> Decision {
    let v = votes(&[Some(Some(ME)), Some(Some(ME)), Some(Some(ME))]);
    decide(&policy(Mode::Auto), &obs(master_info(), me_known(), Some(v), dns_ips(&["10.0.0.11"])))
}

fn change() -> roles::TagChange {
    roles::TagChange { node: "b".into(), service_id: "redis".into(), endpoint: hp(OTHER), from: vec!["master".into()], to: vec!["replica".into()] }
}

#[test]
fn published_tags_keep_the_verdict_and_list_the_changes() {
    let report = PublishReport { changes: vec![change()], held_by: None };
    let o = finish(passing_master(), None, Some(Ok(report)));
    assert_eq!(line1(&o), "PASSING: redis 10.0.0.11:6379 is the master of redis");
    assert!(o.render_text().contains("[PASSING] tags: retagged for master\n    10.0.0.12:6379 (node b): [master] -> [replica]\n"), "{}", o.render_text());
    let o = finish(passing_master(), None, Some(Ok(PublishReport::default())));
    assert!(o.render_text().contains("[PASSING] tags: tagged master\n"));
}

#[test]
fn a_publish_failure_is_a_warning_that_still_gives_the_verdict() {
    let e = roles::Error::Consul(crate::consul::Error::Unreachable { addr: "127.0.0.1:8500".into(), reason: "connection refused".into() });
    let o = finish(passing_master(), None, Some(Err(e.clone())));
    assert_eq!(line1(&o), "WARNING: role tags not published: consul at 127.0.0.1:8500 is unreachable: connection refused");
    assert!(o.render_text().contains("    PASSING: redis 10.0.0.11:6379 is the master of redis\n"), "{}", o.render_text());
    let json: serde_json::Value = serde_json::from_str(&o.render(Format::Json)).unwrap();
    assert_eq!(json["exit_code"], 1);

    let critical = decide(&policy(Mode::Auto), &obs(replica_info(ME, false, -1, false), replica_me(), None, None));
    let o = finish(critical, None, Some(Err(e)));
    assert_eq!(line1(&o), "CRITICAL: replica 10.0.0.12:6379 has lost its master 10.0.0.11:6379", "critical stays critical");
}

#[test]
fn a_held_master_tag_is_a_warning() {
    let report = PublishReport { changes: vec![], held_by: Some(hp(OTHER)) };
    let o = finish(passing_master(), None, Some(Ok(report)));
    assert_eq!(o.status(), Status::Warning);
    assert!(line1(&o).starts_with("WARNING: 10.0.0.12:6379 holds the master tag"));
}

#[test]
fn fencing_reports_under_the_stale_verdict() {
    let v = votes(&[Some(Some(OTHER)), Some(Some(OTHER)), Some(Some(ME))]);
    let fencing = Policy { fence: true, ..policy(Mode::Auto) };
    let d = decide(&fencing, &obs(master_info(), me_known(), Some(v), None));
    let o = finish(d.clone(), Some(FenceResult::Demoted { me: hp(ME), to: hp(OTHER) }), None);
    assert!(line1(&o).starts_with("CRITICAL: redis 10.0.0.11:6379 is a stale master"));
    assert!(o.render_text().contains("[CRITICAL] fence: demoted stale master 10.0.0.11:6379 to a replica of 10.0.0.12:6379"));
    let paused = FenceResult::Paused { me: hp(ME), duration: Duration::from_secs(10), reason: "10.0.0.12:6379 does not say role:master".into() };
    let o = finish(d, Some(paused), None);
    assert!(o.render_text().contains("writes to stale master 10.0.0.11:6379 are paused for 10s; not demoted: 10.0.0.12:6379 does not say"));
}

//! The checks after a move, and the documented cleanup when a sentinel knows one too many.
//!
//! Sentinel never forgets a sentinel it once saw, and counts every known one as a voter: one
//! stale entry raises the majority from 2 to 3, which two hosts can no longer reach after a host
//! dies. So "done" means: each of the three answers `SENTINEL CKQUORUM` with OK and knows exactly
//! the other two, at their current addresses. An extra (say, a sentinel started by hand and
//! stopped again) is reported; `--reset` then runs `SENTINEL RESET` on one sentinel at a time,
//! waits for it to re-learn the two live peers, and waits the documented time before the next.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::redis::{CkQuorum, ConnectOptions, Error, SentinelConn, SentinelPeer};

/// One sentinel's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentinelQuorum {
    pub ckquorum: CkQuorum,
    /// `num-other-sentinels`: the voters it knows besides itself.
    pub others: usize,
    /// Known sentinels that are not among the three (stale or hand-started).
    pub extra: Vec<Extra>,
    /// Which of the other two it does not know (yet).
    #[serde(serialize_with = "addrs")]
    pub missing: Vec<HostPort>,
}

/// A known sentinel that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extra {
    #[serde(serialize_with = "addr")]
    pub addr: HostPort,
    pub runid: String,
    /// True when the sentinel that knows it sees it down (it was stopped): only then can a
    /// RESET forget it for good.
    pub down: bool,
}

fn addr<S: serde::Serializer>(a: &HostPort, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

fn addrs<S: serde::Serializer>(list: &[HostPort], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(ToString::to_string))
}

/// The three sentinels' answers, in the order asked.
#[derive(Debug, Clone)]
pub struct QuorumCheck {
    pub entries: Vec<(HostPort, Result<SentinelQuorum, Error>)>,
}

impl QuorumCheck {
    /// Asks each of `sentinels` (the three as they should be) at once.
    pub fn take(sentinels: &[HostPort; 3], name: &str, opts: &ConnectOptions) -> QuorumCheck {
        let entries = std::thread::scope(|scope| {
            let handles: Vec<_> = sentinels
                .iter()
                .map(|me| {
                    let others: Vec<HostPort> = sentinels.iter().filter(|s| *s != me).cloned().collect();
                    (me.clone(), scope.spawn(move || ask(me, &others, name, opts)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(me, h)| {
                    let result = h.join().unwrap_or_else(|_| {
                        Err(Error::Protocol {
                            kind: crate::redis::ServerKind::Sentinel,
                            addr: me.clone(),
                            command: "SENTINEL CKQUORUM".into(),
                            detail: "the query thread panicked".into(),
                        })
                    });
                    (me, result)
                })
                .collect()
        });
        QuorumCheck { entries }
    }

    /// Every sentinel answers OK, knows exactly the other two, and nothing else.
    pub fn is_clean(&self) -> bool {
        self.entries
            .iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|q| q.ckquorum.is_ok() && q.others == 2 && q.extra.is_empty() && q.missing.is_empty()))
    }

    /// The extras, with the sentinel that knows each.
    pub fn extras(&self) -> Vec<(&HostPort, &Extra)> {
        self.entries.iter().filter_map(|(a, r)| r.as_ref().ok().map(|q| (a, q))).flat_map(|(a, q)| q.extra.iter().map(move |e| (a, e))).collect()
    }

    /// One line per sentinel, for reports and the action log.
    pub fn lines(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(a, r)| match r {
                Err(e) => format!("sentinel {a}: {e}"),
                Ok(q) => {
                    let mut line = format!("sentinel {a}: {} (knows {} other sentinels", ck_text(&q.ckquorum), q.others);
                    if !q.extra.is_empty() {
                        let list: Vec<String> = q.extra.iter().map(|e| format!("{} {}{}", e.addr, e.runid, if e.down { " down" } else { "" })).collect();
                        line.push_str(&format!("; unexpected: {}", list.join(", ")));
                    }
                    if !q.missing.is_empty() {
                        let list: Vec<String> = q.missing.iter().map(ToString::to_string).collect();
                        line.push_str(&format!("; not yet: {}", list.join(", ")));
                    }
                    line.push(')');
                    line
                }
            })
            .collect()
    }

    /// One short sentence for line 1 of a report.
    pub fn summary(&self) -> String {
        if self.is_clean() {
            return "CKQUORUM OK on all 3 sentinels, each knows exactly the other 2".into();
        }
        if let Some((who, e)) = self.extras().first() {
            return format!("sentinel {who} knows an unexpected sentinel {} (run `sentinel-rebalance reconcile --reset` once it is stopped)", e.addr);
        }
        match self.entries.iter().find(|(_, r)| !r.as_ref().is_ok_and(|q| q.ckquorum.is_ok() && q.others == 2 && q.missing.is_empty())) {
            Some((a, Err(e))) => format!("sentinel {a} cannot be checked: {e}"),
            Some((a, Ok(q))) if !q.ckquorum.is_ok() => format!("sentinel {a}: {}", ck_text(&q.ckquorum)),
            Some((a, Ok(q))) => format!("sentinel {a} knows {} other sentinels, expected the other 2", q.others),
            None => "quorum check incomplete".into(),
        }
    }
}

fn ck_text(c: &CkQuorum) -> &str {
    match c {
        CkQuorum::Ok { text, .. } | CkQuorum::NoQuorum { text, .. } => text,
    }
}

fn ask(me: &HostPort, others: &[HostPort], name: &str, opts: &ConnectOptions) -> Result<SentinelQuorum, Error> {
    let mut conn = SentinelConn::connect(me, opts)?;
    let ckquorum = conn.ckquorum(name)?;
    let peers = conn.sentinels(name)?;
    Ok(judge(ckquorum, &peers, others))
}

fn judge(ckquorum: CkQuorum, peers: &[SentinelPeer], others: &[HostPort]) -> SentinelQuorum {
    let extra = peers
        .iter()
        .filter(|p| !others.contains(&p.addr()))
        .map(|p| Extra { addr: p.addr(), runid: p.runid.clone(), down: p.looks_down() })
        .collect();
    let missing = others.iter().filter(|o| !peers.iter().any(|p| p.addr() == **o)).cloned().collect();
    SentinelQuorum { ckquorum, others: peers.len(), extra, missing }
}

/// Waits up to `limit` for a clean check; returns the last one either way.
pub fn wait_clean(sentinels: &[HostPort; 3], name: &str, opts: &ConnectOptions, limit: Duration) -> QuorumCheck {
    let deadline = Instant::now() + limit;
    loop {
        let check = QuorumCheck::take(sentinels, name, opts);
        if check.is_clean() || Instant::now() >= deadline {
            return check;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Why `--reset` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("sentinel {knower} knows {extra} and sees it running: stop that sentinel first, then reset")]
    ExtraAlive { knower: HostPort, extra: HostPort },
    #[error("cannot reset with sentinel {0} unreachable: {1}")]
    Unreachable(HostPort, Error),
    #[error("sentinel {addr} did not re-learn its peers within {}: {last}", crate::human::duration(*.after))]
    NotRelearned { addr: HostPort, after: Duration, last: String },
    #[error(transparent)]
    Redis(#[from] Error),
}

/// What `--reset` did.
#[derive(Debug, Clone, Default)]
pub struct ResetReport {
    /// The sentinels reset, in order.
    pub reset: Vec<HostPort>,
}

/// The documented removal procedure: `SENTINEL RESET <name>` on each sentinel that knows an
/// extra, one at a time; after each, wait until it knows exactly the other two again, then
/// wait `pause` before the next. Refuses while an extra is still running (it would come back).
pub fn reset(
    sentinels: &[HostPort; 3],
    name: &str,
    opts: &ConnectOptions,
    pause: Duration,
    relearn: Duration,
    log: &mut ActionLog,
) -> Result<ResetReport, ResetError> {
    let check = QuorumCheck::take(sentinels, name, opts);
    for (addr, result) in &check.entries {
        if let Err(e) = result {
            return Err(ResetError::Unreachable(addr.clone(), e.clone()));
        }
    }
    if let Some((knower, extra)) = check.extras().into_iter().find(|(_, e)| !e.down) {
        return Err(ResetError::ExtraAlive { knower: knower.clone(), extra: extra.addr.clone() });
    }
    let targets: Vec<HostPort> =
        check.entries.iter().filter(|(_, r)| r.as_ref().is_ok_and(|q| !q.extra.is_empty())).map(|(a, _)| a.clone()).collect();
    let mut report = ResetReport::default();
    for (i, addr) in targets.iter().enumerate() {
        if i > 0 {
            // The documented pause between two resets (Sentinel docs: at least 30 s), so the
            // sentinels never all forget their peers at once.
            log.record("reset-pause", &[("seconds", &pause.as_secs_f64())]);
            std::thread::sleep(pause);
        }
        let n = SentinelConn::connect(addr, opts)?.reset(name)?;
        log.record("sentinel-reset", &[("sentinel", addr), ("master", &name), ("matched", &n)]);
        report.reset.push(addr.clone());
        let others: Vec<HostPort> = sentinels.iter().filter(|s| *s != addr).cloned().collect();
        let deadline = Instant::now() + relearn;
        loop {
            let last = match ask(addr, &others, name, opts) {
                Ok(q) if q.others == 2 && q.extra.is_empty() && q.missing.is_empty() => break,
                Ok(q) => format!("knows {} other sentinels", q.others),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(ResetError::NotRelearned { addr: addr.clone(), after: relearn, last });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        log.record("sentinel-relearned", &[("sentinel", addr)]);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn peer(a: &str, flags: &str) -> SentinelPeer {
        let hp: HostPort = a.parse().unwrap();
        SentinelPeer {
            ip: hp.host,
            port: hp.port,
            runid: "ab".repeat(20),
            flags: flags.split(',').map(String::from).collect(),
            fields: BTreeMap::new(),
        }
    }

    fn ok() -> CkQuorum {
        CkQuorum::Ok { usable: Some(3), text: "OK 3 usable Sentinels. Quorum and failover authorization can be reached".into() }
    }

    fn others() -> Vec<HostPort> {
        vec!["10.0.0.12:26379".parse().unwrap(), "10.0.0.12:26380".parse().unwrap()]
    }

    #[test]
    fn exactly_the_other_two_is_clean() {
        let q = judge(ok(), &[peer("10.0.0.12:26379", "sentinel"), peer("10.0.0.12:26380", "sentinel")], &others());
        assert_eq!((q.others, q.extra.len(), q.missing.len()), (2, 0, 0));
        let check = QuorumCheck { entries: vec![("10.0.0.11:26379".parse().unwrap(), Ok(q))] };
        assert!(check.is_clean());
        assert!(check.summary().starts_with("CKQUORUM OK"));
    }

    #[test]
    fn a_fourth_known_sentinel_is_an_extra_even_with_ckquorum_ok() {
        let q = judge(
            ok(),
            &[peer("10.0.0.12:26379", "sentinel"), peer("10.0.0.12:26380", "sentinel"), peer("10.0.0.11:26380", "s_down,sentinel,disconnected")],
            &others(),
        );
        assert_eq!(q.others, 3);
        assert_eq!(q.extra, vec![Extra { addr: "10.0.0.11:26380".parse().unwrap(), runid: "ab".repeat(20), down: true }]);
        let check = QuorumCheck { entries: vec![("10.0.0.11:26379".parse().unwrap(), Ok(q))] };
        assert!(!check.is_clean());
        assert!(check.summary().contains("unexpected sentinel 10.0.0.11:26380"), "{}", check.summary());
        assert!(check.lines()[0].contains("unexpected: 10.0.0.11:26380"), "{:?}", check.lines());
    }

    #[test]
    fn a_peer_not_yet_seen_at_its_new_address_is_missing() {
        let q = judge(ok(), &[peer("10.0.0.12:26379", "sentinel"), peer("10.0.0.11:26380", "sentinel")], &others());
        assert_eq!(q.missing, vec!["10.0.0.12:26380".parse::<HostPort>().unwrap()]);
        assert_eq!(q.extra.len(), 1, "the old address of a moved identity is stale");
    }
}

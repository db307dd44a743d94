//! `sengu::dns` with [`Source::System`] resolves as glibc does on its host: in the order of
//! `hosts:` in nsswitch.conf, not `/etc/hosts` first whatever that file says (issue 13).

use std::net::IpAddr;
use std::time::Duration;

use sengu::dns::{DnsError, Family, Options, Source, lookup};

use crate::lab::{MASTER, OWN_HOSTS, netns_test};

fn set_order(hosts: &str) {
    let text = std::fs::read_to_string("/etc/nsswitch.conf").unwrap();
    let text: String = text.lines().map(|l| if l.starts_with("hosts:") { format!("hosts: {hosts}\n") } else { format!("{l}\n") }).collect();
    std::fs::write("/etc/nsswitch.conf", text).unwrap();
}

fn system(name: &str) -> Result<Vec<IpAddr>, DnsError> {
    lookup(name, Family::V4, &Source::System, &Options { timeout: Duration::from_secs(1), attempts: 2, ..Options::default() })
}

netns_test! {
    fn system_resolver_follows_nsswitch(lab) {
        let (stale, live): (IpAddr, IpAddr) = ("127.0.0.21".parse().unwrap(), "127.0.0.22".parse().unwrap());
        lab.publish_master("db-b", live);
        std::fs::write("/etc/hosts", format!("{OWN_HOSTS}{stale} {MASTER}\n")).unwrap();

        set_order("files dns");
        assert_eq!(system(MASTER).unwrap(), [stale], "files first: the hosts file wins");
        assert_eq!(lab.getent(MASTER), [stale], "as for glibc's own clients");

        set_order("dns files");
        assert_eq!(system(MASTER).unwrap(), [live], "dns first: DNS wins (the hickory resolver read /etc/hosts first here)");
        assert_eq!(lab.getent(MASTER), [live]);

        set_order("dns [NOTFOUND=return] files");
        lab.unpublish("db-b");
        let e = system(MASTER).unwrap_err();
        assert!(matches!(e, DnsError::NxDomain { .. }), "{e:?}");
        assert_eq!(lab.getent(MASTER), [] as [IpAddr; 0]);

        lab.kill_dnsmasq();
        assert_eq!(system(MASTER).unwrap(), [stale], "DNS unavailable: on to files");
        assert_eq!(system("localhost").unwrap(), ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    }
}

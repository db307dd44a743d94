//! mysql-master-check's first step: ask the local server and Consul, then only what the
//! decision needs (the server the record names, the master's GTID position, the old master of
//! a recorded move), each call bounded by the MySQL timeouts and the run's Consul deadline.

use super::decide::{self, Local, Observations, Peer};
use super::Settings;
use crate::addr::HostPort;
use crate::consul::{self, Client};
use crate::mysql::{self, Server};
use crate::mysql_hooks::records::View;

/// Asks everything one run needs. `client` is `None` when the Consul settings could not make
/// one (then the record counts as unreadable).
pub fn observe(settings: &Settings, client: Option<&Client>) -> Observations {
    let local = ask(&settings.mysql, settings).map(|(role, server_id)| Local { role, server_id });
    let consul = match client {
        Some(client) => View::read(client, &settings.names),
        None => Err(consul::Error::Config("no consul client".into())),
    };
    let holds = match (client, &consul) {
        (Some(client), Ok(_)) => crate::hold::read(client, &settings.names.master_node).ok(),
        _ => None,
    };
    let now = std::time::SystemTime::now();
    let me = identity(settings, client);
    let mut seen = Observations { me: me.clone(), local, consul, named: None, source_gtid: None, old_writable: None, holds, now };
    let Ok(local) = &seen.local else { return seen };
    let me = &me;
    match &local.role.replica {
        Some(status) if status.is_healthy() && settings.max_gtid_gap.is_some() => {
            seen.source_gtid = Some(Server::connect(&status.master, &settings.credentials, settings.mysql_timeouts).and_then(|mut s| s.gtid_binlog_pos()));
        }
        _ => {}
    }
    let writable_master = local.role.is_writable();
    if let (true, Ok(view)) = (writable_master, &seen.consul) {
        match decide::published(view) {
            Ok(Some(record)) => {
                let named = decide::record_addr(&record, me.port);
                if named != *me && named != settings.mysql {
                    let answer = ask(&named, settings).map(|(role, server_id)| Peer { role, server_id });
                    seen.named = Some((named, answer));
                }
            }
            Ok(None) => {
                let old = view.move_record().filter(|m| m.new_addr().as_ref() == Some(me)).and_then(|m| m.old_addr());
                if let Some(old) = old {
                    seen.old_writable = Some(ask(&old, settings).is_ok_and(|(role, _)| role.is_writable()));
                }
            }
            Err(_) => {}
        }
    }
    seen
}

/// The address the local server is published under: `--advertise-ip`, the `--mysql` host
/// unless it is loopback, else the local agent's node address (one request), else `--mysql`.
fn identity(settings: &Settings, client: Option<&Client>) -> HostPort {
    let port = settings.mysql.port;
    if let Some(ip) = settings.advertise_ip {
        return HostPort { host: ip.to_string(), port };
    }
    if !settings.mysql.ip().is_some_and(|ip| ip.is_loopback()) {
        return settings.mysql.clone();
    }
    match client.map(Client::agent_self) {
        Some(Ok(agent)) if !agent.node_address.is_empty() => HostPort { host: agent.node_address, port },
        _ => settings.mysql.clone(),
    }
}

/// One server's role and `server_id`, over one connection.
fn ask(addr: &HostPort, settings: &Settings) -> Result<(mysql::ServerRole, u32), mysql::Error> {
    let mut server = Server::connect(addr, &settings.credentials, settings.mysql_timeouts)?;
    Ok((server.role()?, server.server_id()?))
}

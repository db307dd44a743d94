//! The drill tests' lab: a Redis master and replica on two hosts with three sentinels
//! (testbed), and a consul-standin with DNS where both Redis instances are registered as
//! service `redis` (tags `master`/`replica`, `enable_tag_override`), the way agents would.

#![allow(dead_code)] // each test file uses a different subset

use std::net::{IpAddr, SocketAddr};

use consul_standin::Standin;
use sengu::consul::{CatalogRegistration, Client, ClientConfig, Service};
use testbed::redis::RedisSet;

pub const BIN: &str = env!("CARGO_BIN_EXE_sengu-drill");
pub const SERVICE: &str = "redis";
pub const MASTER_NAME: &str = "mymaster";

pub struct Lab {
    pub set: RedisSet,
    pub standin: Standin,
    pub consul: Client,
}

impl Lab {
    pub fn start() -> Lab {
        let set = RedisSet::builder().replicas(1).sentinels(3).master_name(MASTER_NAME).start();
        let standin = Standin::builder().agent("consul", "127.0.0.1".parse().unwrap()).dns(true).start().unwrap();
        let addr = standin.http_addr("consul").unwrap().to_string();
        let consul = Client::new(&ClientConfig::from_lookup(|_| None).unwrap().with_address(&addr).unwrap()).unwrap();
        let lab = Lab { set, standin, consul };
        for (i, node) in ["redis-a", "redis-b"].iter().enumerate() {
            let server = lab.set.server(i);
            lab.register(node, server.ip(), server.port(), if i == 0 { "master" } else { "replica" });
        }
        lab
    }

    /// (Re-)registers a node's instance of the service with one role tag.
    pub fn register(&self, node: &str, ip: IpAddr, port: u16, tag: &str) {
        let service = Service {
            id: SERVICE.into(),
            service: SERVICE.into(),
            tags: vec![tag.into()],
            port,
            enable_tag_override: true,
            ..Service::default()
        };
        let reg = CatalogRegistration { node: node.into(), address: ip.to_string(), service: Some(service), ..Default::default() };
        self.consul.catalog_register(&reg).unwrap();
    }

    pub fn dns(&self) -> SocketAddr {
        self.standin.dns_addr().unwrap()
    }

    pub fn consul_addr(&self) -> String {
        self.standin.http_addr("consul").unwrap().to_string()
    }

    /// The arguments of a Redis drill against this lab.
    pub fn drill_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec!["redis".into()];
        for s in self.set.sentinels() {
            args.extend(["--sentinel".to_string(), s.addr().to_string()]);
        }
        args.extend(
            ["--sentinel-master", MASTER_NAME, "--service", SERVICE, "--dns-server", &self.dns().to_string(), "--consul-addr", &self.consul_addr()]
                .iter()
                .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Each instance's address and tags, sorted, to compare before and after.
    pub fn tags(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> =
            self.consul.catalog_service(SERVICE, None).unwrap().into_iter().map(|s| (s.address().to_string(), s.service_tags)).collect();
        out.sort();
        out
    }

    /// What the stand-in's DNS answers for the master name.
    pub fn dns_masters(&self) -> Vec<IpAddr> {
        let opts = sengu::dns::Options::default();
        sengu::dns::lookup("master.redis.service.consul", sengu::dns::Family::V4, &sengu::dns::Source::Server(self.dns()), &opts).unwrap_or_default()
    }

    /// The drill reports stored in KV.
    pub fn stored_drills(&self) -> Vec<String> {
        self.consul.kv_list("sengu/drills/").unwrap().into_iter().map(|p| p.key).collect()
    }
}

//! The integration tests of `consul-hosts-fallback`, one binary (`cargo test -p
//! consul-hosts-fallback`), one module per topic:
//!
//! - `cli`: settings, bad input and unwritable files (nothing changed), the check's states,
//!   against an in-process consul-standin on 127.13.0.x;
//! - `layout`: glibc itself (`getent ahosts`) on a client host in private namespaces, with
//!   the shipped nsswitch.conf and dnsmasq config, consul-standin and a real dnsmasq (`lab`);
//! - `dns`: `sengu::dns`'s system resolver follows that host's nsswitch.conf.

mod lab;

mod cli;
mod dns;
mod layout;

//! `mysql-fail-check`: decides whether a MySQL master is really gone before mysqlfailover fails
//! over, from several vantage points (this monitor, the replicas, optionally Consul).

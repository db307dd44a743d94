//! The testbed's own integration tests, one test binary for the package: the MariaDB servers
//! and GTID sets in [`mariadb`], Redis servers, sets and sentinels in [`redis`].

mod mariadb;
mod redis;

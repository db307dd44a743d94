//! mysql-master-check's integration tests, one test binary for the package, against real
//! MariaDB GTID sets (a master and two replicas) and a Consul stand-in: replicas, masters,
//! fencing, reconcile, and the command line.

use sengu_testsupport as _;

mod check;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-master-check");

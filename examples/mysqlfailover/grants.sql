-- The account the hooks use, on every server (it must work on whichever becomes master).
-- MariaDB >= 10.5.9: read replica status, and change read_only (verify, --make-writable, fencing).
CREATE USER 'sengu_hooks'@'10.0.0.%' IDENTIFIED BY 'change-me';
GRANT SLAVE MONITOR, READ_ONLY ADMIN ON *.* TO 'sengu_hooks'@'10.0.0.%';
-- mysql-master-check with the same account: the master's binary log position (BINLOG
-- MONITOR) and, for --fence-stale-master, listing and killing client connections.
GRANT BINLOG MONITOR, PROCESS, CONNECTION ADMIN ON *.* TO 'sengu_hooks'@'10.0.0.%';

-- MySQL 8 instead: REPLICATION CLIENT to read replica status, SYSTEM_VARIABLES_ADMIN to set
-- read_only and super_read_only.
-- GRANT REPLICATION CLIENT, SYSTEM_VARIABLES_ADMIN ON *.* TO 'sengu_hooks'@'10.0.0.%';

-- Applications must NOT hold READ_ONLY ADMIN (MariaDB), SUPER or ALL PRIVILEGES: with those,
-- read_only does not stop their writes, so neither fencing nor a read-only replica protects
-- the data.

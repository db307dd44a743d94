-- The account mysql-mha-script logs in with, on every server (it must work on whichever becomes
-- master). MariaDB >= 10.5.9: read replica status and the binary log position (to check the new
-- master caught up), and change read_only (fencing, making the new master writable).
CREATE USER 'sengu_hooks'@'10.0.0.%' IDENTIFIED BY 'change-me';
GRANT BINLOG MONITOR, SLAVE MONITOR, READ_ONLY ADMIN ON *.* TO 'sengu_hooks'@'10.0.0.%';
-- mysql-master-check's --fence-stale-master also lists and kills client connections.
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'sengu_hooks'@'10.0.0.%';

-- MySQL 8 instead: REPLICATION CLIENT for replica status and SHOW BINARY LOG STATUS,
-- SYSTEM_VARIABLES_ADMIN to set read_only and super_read_only.
-- GRANT REPLICATION CLIENT, SYSTEM_VARIABLES_ADMIN ON *.* TO 'sengu_hooks'@'10.0.0.%';

-- MHA's own account (app1.cnf user=): it stops and resets replication, locks tables and
-- changes masters, so it needs everything. Applications must never hold READ_ONLY ADMIN,
-- SUPER or ALL PRIVILEGES: read_only does not stop their writes.
CREATE USER 'mha'@'10.0.0.%' IDENTIFIED BY 'change-me';
GRANT ALL PRIVILEGES ON *.* TO 'mha'@'10.0.0.%';

complete -c mysql-mha-script -l command -d 'The phase' -r -f -a "status\t'Monitor start-up: do Consul and the master agree?'
stop\t'Take the old master out (online switch, or a failover without SSH to the old master)'
stopssh\t'The same, in a failover with SSH to the old master'
start\t'Publish the new master'"
complete -c mysql-mha-script -l orig_master_host -d 'The old master\'s host' -r
complete -c mysql-mha-script -l orig_master_ip -d 'The old master\'s IP address' -r
complete -c mysql-mha-script -l orig_master_port -d 'The old master\'s port' -r
complete -c mysql-mha-script -l new_master_host -d 'The new master\'s host (online switch; failover start)' -r
complete -c mysql-mha-script -l new_master_ip -d 'The new master\'s IP address' -r
complete -c mysql-mha-script -l new_master_port -d 'The new master\'s port' -r
complete -c mysql-mha-script -l orig_master_user -d 'MHA\'s MySQL user on the old master (only the online change script gets it)' -r
complete -c mysql-mha-script -l new_master_user -d 'MHA\'s MySQL user on the new master (not used)' -r
complete -c mysql-mha-script -l orig_master_password -d 'MHA\'s password for the old master: accepted, never used or shown' -r
complete -c mysql-mha-script -l new_master_password -d 'MHA\'s password for the new master: accepted, never used or shown' -r
complete -c mysql-mha-script -l ssh_user -d 'SSH settings MHA passes (not used: sengu does not log in over SSH)' -r
complete -c mysql-mha-script -l orig_master_ssh_user -r
complete -c mysql-mha-script -l new_master_ssh_user -r
complete -c mysql-mha-script -l orig_master_ssh_host -r
complete -c mysql-mha-script -l orig_master_ssh_ip -r
complete -c mysql-mha-script -l orig_master_ssh_port -r
complete -c mysql-mha-script -l new_master_ssh_host -r
complete -c mysql-mha-script -l new_master_ssh_ip -r
complete -c mysql-mha-script -l new_master_ssh_port -r
complete -c mysql-mha-script -l ssh_options -r
complete -c mysql-mha-script -l fence-old-master -d 'Set read_only (and super_read_only where it exists) on the old master if it answers (also [mysql-hooks] fence_old_master)' -r -f -a "true\t''
false\t''"
complete -c mysql-mha-script -l fence-timeout -d 'How long fencing may wait for the old master, e.g. 2s (also [mysql-hooks] fence_timeout) [default: 2s]' -r
complete -c mysql-mha-script -l make-writable -d 'Turn read_only off on the new master if it is still on, instead of refusing it (also [mysql-hooks] make_writable)' -r -f -a "true\t''
false\t''"
complete -c mysql-mha-script -l kv-format -d 'How the master\'s address is written to Consul KV (also [mysql-hooks] kv_format) [default: plain]' -r -f -a "plain\t'The bare host (`10.0.0.12`), as the shell hook this replaces wrote it'
json\t'`{"host": …, "port": …, "previous": "host:port" or null, "changed_at": RFC 3339}`'"
complete -c mysql-mha-script -l wait-dns -d 'Wait until this DNS server (Consul\'s) answers with the new master before returning (also [mysql-hooks] wait_dns)' -r
complete -c mysql-mha-script -l wait-dns-name -d 'The name to look up with --wait-dns (also [mysql-hooks] wait_dns_name) [default: <master node>.node.consul.]' -r
complete -c mysql-mha-script -l wait-dns-timeout -d 'How long --wait-dns waits, e.g. 10s (also [mysql-hooks] wait_dns_timeout) [default: 10s]' -r
complete -c mysql-mha-script -l block-after-failover -d 'After a failover (not a switchover), block further automatic failovers of this master for this long; 0s turns it off (also [mysql-hooks] block_after_failover) [default: 1h]' -r
complete -c mysql-mha-script -l master-node -d 'Catalog node that publishes the master (also [mysql-hooks] master_node) [default: foo-db-master]' -r
complete -c mysql-mha-script -l replica-node -d 'Catalog node that publishes a replica (also [mysql-hooks] replica_node) [default: foo-db-slave]' -r
complete -c mysql-mha-script -l kv-key -d 'KV key holding the master\'s address (also [mysql-hooks] kv_key) [default: foo-db-master]' -r
complete -c mysql-mha-script -l service -d 'Also publish the master as this service (with its port) on the master node (also [mysql-hooks] service)' -r
complete -c mysql-mha-script -l mysql-timeout -d 'Timeout of each MySQL connect and query, e.g. 3s (also [mysql-hooks] mysql_timeout) [default: 3s]' -r
complete -c mysql-mha-script -l mysql-defaults-file -d 'MySQL option file with the [client] user and password (also [mysql] defaults_file)' -r -F
complete -c mysql-mha-script -l mysql-user -d 'MySQL user, overriding the option file\'s (also [mysql] user)' -r
complete -c mysql-mha-script -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c mysql-mha-script -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c mysql-mha-script -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c mysql-mha-script -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c mysql-mha-script -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c mysql-mha-script -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c mysql-mha-script -l orig_master_is_new_slave -d 'Old master ends up a replica of the new one (online switch)'
complete -c mysql-mha-script -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c mysql-mha-script -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mysql-mha-script -s V -l version -d 'Print version'

complete -c mysql-after-exec -l old-master -d 'The master that was replaced, if known (instead of the positional arguments)' -r
complete -c mysql-after-exec -l new-master -d 'The master that took over (instead of the positional arguments)' -r
complete -c mysql-after-exec -l make-writable -d 'Turn read_only off on the new master if it is still on, instead of refusing it (also [mysql-hooks] make_writable)' -r -f -a "true\t''
false\t''"
complete -c mysql-after-exec -l kv-format -d 'How the master\'s address is written to Consul KV (also [mysql-hooks] kv_format) [default: plain]' -r -f -a "plain\t'The bare host (`10.0.0.12`), as the shell hook this replaces wrote it'
json\t'`{"host": …, "port": …, "previous": "host:port" or null, "changed_at": RFC 3339}`'"
complete -c mysql-after-exec -l wait-dns -d 'Wait until this DNS server (Consul\'s) answers with the new master before returning (also [mysql-hooks] wait_dns)' -r
complete -c mysql-after-exec -l wait-dns-name -d 'The name to look up with --wait-dns (also [mysql-hooks] wait_dns_name) [default: <master node>.node.consul.]' -r
complete -c mysql-after-exec -l wait-dns-timeout -d 'How long --wait-dns waits, e.g. 10s (also [mysql-hooks] wait_dns_timeout) [default: 10s]' -r
complete -c mysql-after-exec -l block-after-failover -d 'After a failover (not a switchover), block further automatic failovers of this master for this long; 0s turns it off (also [mysql-hooks] block_after_failover) [default: 1h]' -r
complete -c mysql-after-exec -l master-node -d 'Catalog node that publishes the master (also [mysql-hooks] master_node) [default: foo-db-master]' -r
complete -c mysql-after-exec -l replica-node -d 'Catalog node that publishes a replica (also [mysql-hooks] replica_node) [default: foo-db-slave]' -r
complete -c mysql-after-exec -l kv-key -d 'KV key holding the master\'s address (also [mysql-hooks] kv_key) [default: foo-db-master]' -r
complete -c mysql-after-exec -l service -d 'Also publish the master as this service (with its port) on the master node (also [mysql-hooks] service)' -r
complete -c mysql-after-exec -l mysql-timeout -d 'Timeout of each MySQL connect and query, e.g. 3s (also [mysql-hooks] mysql_timeout) [default: 3s]' -r
complete -c mysql-after-exec -l mysql-defaults-file -d 'MySQL option file with the [client] user and password (also [mysql] defaults_file)' -r -F
complete -c mysql-after-exec -l mysql-user -d 'MySQL user, overriding the option file\'s (also [mysql] user)' -r
complete -c mysql-after-exec -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c mysql-after-exec -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c mysql-after-exec -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c mysql-after-exec -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c mysql-after-exec -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c mysql-after-exec -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c mysql-after-exec -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c mysql-after-exec -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mysql-after-exec -s V -l version -d 'Print version'

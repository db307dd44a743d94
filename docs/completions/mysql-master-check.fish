complete -c mysql-master-check -l mysql -d 'The local MySQL or MariaDB server to check (also [mysql-master-check] mysql)' -r
complete -c mysql-master-check -l advertise-ip -d 'The address this server is published under (the hooks\' records, the tags, the replica node) [default: the --mysql host unless loopback, else the local Consul agent\'s node address]' -r
complete -c mysql-master-check -l role -d 'What passing means: master, replica, or auto (either, when healthy) [default: auto]' -r -f -a "master\t'Pass only on the one true master (the seed layout: replicas stay critical)'
replica\t'Pass only on a healthy replica'
auto\t'Pass on the true master or a healthy replica (role mode, with tags telling them apart)'"
complete -c mysql-master-check -l max-lag -d 'Most seconds behind its master a replica may be and pass; above: critical [default: 30]' -r
complete -c mysql-master-check -l warn-lag -d 'Seconds behind above which a passing replica is a warning [default: 10]' -r
complete -c mysql-master-check -l max-gtid-gap -d 'Most transactions a replica may miss of its master\'s binary log (GTID sequence numbers per domain); above: critical [default: not checked]' -r
complete -c mysql-master-check -l fence-stale-master -d 'Set read_only and kill client connections on a stale writable master, when Consul\'s master record names another server that is a healthy master' -r -f -a "true\t''
false\t''"
complete -c mysql-master-check -l reconcile -d 'Finish a move a failed mysql-after-exec left half done, when the evidence is unambiguous' -r -f -a "true\t''
false\t''"
complete -c mysql-master-check -l publish-replica-node -d 'Keep the replica node (--replica-node) pointing at a healthy replica' -r -f -a "true\t''
false\t''"
complete -c mysql-master-check -l role-service -d 'The Consul service this server is registered as on the local agent; with --publish-tags its master/replica tag follows the role' -r
complete -c mysql-master-check -l publish-tags -d 'Keep the --role-service instance\'s master/replica tag equal to its real role' -r -f -a "true\t''
false\t''"
complete -c mysql-master-check -l master-node -d 'Catalog node that publishes the master (also [mysql-hooks] master_node) [default: foo-db-master]' -r
complete -c mysql-master-check -l replica-node -d 'Catalog node that publishes a replica (also [mysql-hooks] replica_node) [default: foo-db-slave]' -r
complete -c mysql-master-check -l kv-key -d 'KV key holding the master\'s address (also [mysql-hooks] kv_key) [default: foo-db-master]' -r
complete -c mysql-master-check -l service -d 'Also publish the master as this service (with its port) on the master node (also [mysql-hooks] service)' -r
complete -c mysql-master-check -l mysql-timeout -d 'Timeout of each MySQL connect and query, e.g. 3s (also [mysql-hooks] mysql_timeout) [default: 3s]' -r
complete -c mysql-master-check -l mysql-defaults-file -d 'MySQL option file with the [client] user and password (also [mysql] defaults_file)' -r -F
complete -c mysql-master-check -l mysql-user -d 'MySQL user, overriding the option file\'s (also [mysql] user)' -r
complete -c mysql-master-check -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c mysql-master-check -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c mysql-master-check -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c mysql-master-check -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c mysql-master-check -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c mysql-master-check -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c mysql-master-check -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c mysql-master-check -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mysql-master-check -s V -l version -d 'Print version'

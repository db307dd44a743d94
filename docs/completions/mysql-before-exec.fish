complete -c mysql-before-exec -l old-master -d 'The master being replaced (instead of the positional arguments)' -r
complete -c mysql-before-exec -l new-master -d 'The master taking over (instead of the positional arguments)' -r
complete -c mysql-before-exec -l fence-old-master -d 'Set read_only (and super_read_only where it exists) on the old master if it answers (also [mysql-hooks] fence_old_master)' -r -f -a "true\t''
false\t''"
complete -c mysql-before-exec -l fence-timeout -d 'How long fencing may wait for the old master, e.g. 2s (also [mysql-hooks] fence_timeout) [default: 2s]' -r
complete -c mysql-before-exec -l master-node -d 'Catalog node that publishes the master (also [mysql-hooks] master_node) [default: foo-db-master]' -r
complete -c mysql-before-exec -l replica-node -d 'Catalog node that publishes a replica (also [mysql-hooks] replica_node) [default: foo-db-slave]' -r
complete -c mysql-before-exec -l kv-key -d 'KV key holding the master\'s address (also [mysql-hooks] kv_key) [default: foo-db-master]' -r
complete -c mysql-before-exec -l service -d 'Also publish the master as this service (with its port) on the master node (also [mysql-hooks] service)' -r
complete -c mysql-before-exec -l mysql-timeout -d 'Timeout of each MySQL connect and query, e.g. 3s (also [mysql-hooks] mysql_timeout) [default: 3s]' -r
complete -c mysql-before-exec -l mysql-defaults-file -d 'MySQL option file with the [client] user and password (also [mysql] defaults_file)' -r -F
complete -c mysql-before-exec -l mysql-user -d 'MySQL user, overriding the option file\'s (also [mysql] user)' -r
complete -c mysql-before-exec -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c mysql-before-exec -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c mysql-before-exec -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c mysql-before-exec -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c mysql-before-exec -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c mysql-before-exec -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c mysql-before-exec -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c mysql-before-exec -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mysql-before-exec -s V -l version -d 'Print version'

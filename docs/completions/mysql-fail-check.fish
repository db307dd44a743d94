complete -c mysql-fail-check -l confirm-runs -d 'How many consecutive runs must find the master dead before a failover [default: 2]' -r
complete -c mysql-fail-check -l fail-after -d 'How long the master must have been found dead before a failover, e.g. 30s [default: 0s]' -r
complete -c mysql-fail-check -l replica -d 'A replica of the master to ask, HOST:PORT; repeat, or comma-separate in the variable (also [mysql-fail-check] replicas) [default: the master\'s own list, then Consul]' -r
complete -c mysql-fail-check -l master-alias -d 'Another address replicas know the master by (their Master_Host:Master_Port); repeatable' -r
complete -c mysql-fail-check -l max-silence -d 'A replica whose IO thread says Yes but that received nothing for longer than this has lost the master [default: twice its heartbeat period]' -r
complete -c mysql-fail-check -l when-no-replicas -d 'What to conclude when the master is unreachable and no replica can tell [default: no-failover]' -r -f -a "no-failover\t'Count the run as alive: a failover needs a witness besides this monitor'
failover\t'Count the run as dead: this monitor\'s view alone may start a failover'
consul\t'Count the run as dead only if Consul\'s `serfHealth` for the master\'s node is critical'"
complete -c mysql-fail-check -l state-dir -d 'Where the per-master state files live [default: /var/lib/sengu/mysql-fail-check]' -r -F
complete -c mysql-fail-check -l consul-node -d 'The master\'s Consul node, whose serfHealth is logged and can decide --when-no-replicas consul' -r
complete -c mysql-fail-check -l replica-service -d 'A Consul service whose instances are the master\'s replicas (the last place they are looked for)' -r
complete -c mysql-fail-check -l master-node -d 'The master\'s node name as the hooks publish it: the name of its hold record (manual mode, post-failover block) [default: [mysql-hooks] master_node, else foo-db-master]' -r
complete -c mysql-fail-check -l hold -d 'obey: no failover while manual mode or a post-failover block holds, nor while the hold cannot be read; ignore: do not read it (a monitor without Consul) [default: obey]' -r -f -a "obey\t'Read it every run; a dead master fails over only when nothing holds and it was read'
ignore\t'Do not read it: for a monitor host without Consul'"
complete -c mysql-fail-check -l mysql-defaults-file -d 'MySQL option file with the [client] user and password (also [mysql] defaults_file)' -r -F
complete -c mysql-fail-check -l mysql-user -d 'MySQL user, overriding the option file\'s (also [mysql] user)' -r
complete -c mysql-fail-check -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c mysql-fail-check -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c mysql-fail-check -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c mysql-fail-check -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c mysql-fail-check -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c mysql-fail-check -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c mysql-fail-check -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c mysql-fail-check -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mysql-fail-check -s V -l version -d 'Print version'

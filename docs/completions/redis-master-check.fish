complete -c redis-master-check -l redis -d 'The local Redis to check (also [redis-master-check] redis)' -r
complete -c redis-master-check -l service -d 'The Consul service this Redis is registered as (also [redis-master-check] service)' -r
complete -c redis-master-check -l datacenter -d 'Consul datacenter in the master\'s DNS name [default: none, i.e. the agent\'s]' -r
complete -c redis-master-check -l domain -d 'Consul DNS domain [default: consul]' -r
complete -c redis-master-check -l dns-server -d 'DNS server to ask for the master\'s name, e.g. Consul\'s 127.0.0.1:8600 [default: the system resolver, as applications on this host use it]' -r
complete -c redis-master-check -l advertise-ip -d 'The address this node is published under [default: the local Consul agent\'s node address, else the --redis host when it is not loopback]' -r
complete -c redis-master-check -l role -d 'What passing means: master, replica, or auto (either, when healthy) [default: master]' -r -f -a "master\t'Pass only on the one true master (the seed layout: replicas stay critical)'
replica\t'Pass only on a healthy replica'
auto\t'Pass on the true master or a healthy replica (role mode, with tags telling them apart)'"
complete -c redis-master-check -l sentinel -d 'A sentinel to ask who the master is; repeat for each (env: comma-separated)' -r
complete -c redis-master-check -l sentinel-count -d 'How many sentinels exist, when --sentinel lists more places than that (a sentinel that sentinel-rebalance moves between hosts): a master needs more than half of this many [default: the number of --sentinel addresses]' -r
complete -c redis-master-check -l sentinel-master -d 'The master name the sentinels monitor [default: the service name]' -r
complete -c redis-master-check -l max-lag -d 'Most seconds a passing replica may go without data from its master [default: 30]' -r
complete -c redis-master-check -l publish-tags -d 'Keep this instance\'s master/replica tag in Consul\'s catalog equal to its real role' -r -f -a "true\t''
false\t''"
complete -c redis-master-check -l fence-stale-master -d 'Stop a stale master\'s writes and demote it to a replica of the sentinels\' master' -r -f -a "true\t''
false\t''"
complete -c redis-master-check -l fence-duration -d 'How long one fencing pause of writes lasts; renewed every run [default: 10s]' -r
complete -c redis-master-check -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c redis-master-check -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c redis-master-check -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c redis-master-check -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c redis-master-check -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c redis-master-check -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c redis-master-check -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c redis-master-check -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c redis-master-check -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c redis-master-check -s h -l help -d 'Print help (see more with \'--help\')'
complete -c redis-master-check -s V -l version -d 'Print version'

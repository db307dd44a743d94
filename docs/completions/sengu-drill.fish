# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sengu_drill_global_optspecs
    string join \n print-config config= timeout= format= log-file= syslog= consul-addr= h/help V/version
end

function __fish_sengu_drill_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sengu_drill_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sengu_drill_using_subcommand
    set -l cmd (__fish_sengu_drill_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -s V -l version -d 'Print version'
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -f -a "redis" -d 'A planned switchover through Sentinel: pause writes, wait for the replica, SENTINEL FAILOVER, publish the new master in Consul at once, demote the old one'
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -f -a "mysql" -d 'Run a switchover command (e.g. mysqlrpladmin switchover), or without one switch a MariaDB GTID pair natively, with the same probes and report'
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -f -a "history" -d 'List the drills stored in Consul KV'
complete -c sengu-drill -n "__fish_sengu_drill_needs_command" -f -a "manual" -d 'Manual mode: turn automatic failover off or on for a name, or show it and the post-failover block'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l sentinel -d 'A sentinel; repeat for each (env: comma-separated)' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l sentinel-master -d 'The master name the sentinels monitor [default: the service name]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l service -d 'The Consul service whose instances carry the master/replica tags' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l rounds -d 'How many switches, back and forth [default: 1]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l catch-up-timeout -d 'Longest wait for the replicas to reach the paused master\'s offset (also [drill] catch_up_timeout) [default: 2s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l step-timeout -d 'Longest wait for each step: promotion, demotion, publishing (also [drill] step_timeout) [default: 5s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l dns-server -d 'DNS server applications use, e.g. Consul\'s 127.0.0.1:8600 (also [drill] dns_server) [default: the system resolver]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l dns-name -d 'The name the probes resolve, instead of the one built from the service or node' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l datacenter -d 'Consul datacenter in the DNS name (also [drill] datacenter) [default: none, the agent\'s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l domain -d 'Consul DNS domain (also [drill] domain) [default: consul]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l probe-interval -d 'How often the probes write and read (also [drill] probe_interval) [default: 10ms]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l probe-timeout -d 'Timeout of each probe\'s connect and command (also [drill] probe_timeout) [default: 250ms]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l settle-timeout -d 'Longest wait for things to settle after a switch, and for the pre-checks before the next round (also [drill] settle_timeout) [default: 15s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l keep-going -d 'Go on with the next round after one that broke an invariant (an aborted round still stops the drill); for measuring'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l no-history -d 'Do not store the report in Consul KV (also [drill] history = false)'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l despite-hold -d 'Run although manual mode is on or a post-failover block holds (`sengu-drill manual status`): a person decided; the documented way to make the one-shot switch in manual mode'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand redis" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l service -d 'Probe `<NAME>.service.<domain>`: the service the hooks publish on the master' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l node -d 'Probe `<NAME>.node.<domain>`: the catalog node that stands for the master, e.g. foo-db-master' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l server -d 'A server taking part, so the probes know its port; repeat for each' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l port -d 'The port of any other address DNS answers [default: 3306]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l table -d 'The probe table, created if missing (also [drill] table) [default: sengu_drill.probes]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l mysql-defaults-file -d 'MySQL option file with the [client] user and password (also [mysql] defaults_file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l mysql-user -d 'MySQL user, overriding the option file\'s (also [mysql] user)' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l switchover-timeout -d 'Longest run of the switchover command (also [drill] switchover_timeout) [default: 60s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l to -d 'Native switchover: the server to promote [default: the one other --server]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l rounds -d 'Native switchover: how many switches, back and forth [default: 1]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l admin-defaults-file -d 'Native switchover: option file with the login for its own statements (read_only, KILL, STOP SLAVE, CHANGE MASTER; also [drill] admin_defaults_file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l repl-defaults-file -d 'Native switchover: option file with the replication account the old master uses to replicate from the new one (also [drill] repl_defaults_file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l catch-up-timeout -d 'Native switchover: longest wait for the new master to apply the old one\'s last write (also [drill] catch_up_timeout) [default: 2s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l step-timeout -d 'Native switchover: longest wait for each of its steps (also [drill] step_timeout) [default: 5s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l switchover-cmd -d 'The switchover command and its arguments, run without a shell; must come last. Without it the drill switches natively (MariaDB GTID pairs)' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l dns-server -d 'DNS server applications use, e.g. Consul\'s 127.0.0.1:8600 (also [drill] dns_server) [default: the system resolver]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l dns-name -d 'The name the probes resolve, instead of the one built from the service or node' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l datacenter -d 'Consul datacenter in the DNS name (also [drill] datacenter) [default: none, the agent\'s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l domain -d 'Consul DNS domain (also [drill] domain) [default: consul]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l probe-interval -d 'How often the probes write and read (also [drill] probe_interval) [default: 10ms]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l probe-timeout -d 'Timeout of each probe\'s connect and command (also [drill] probe_timeout) [default: 250ms]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l settle-timeout -d 'Longest wait for things to settle after a switch, and for the pre-checks before the next round (also [drill] settle_timeout) [default: 15s]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l no-history -d 'Do not store the report in Consul KV (also [drill] history = false)'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l despite-hold -d 'Run although manual mode is on or a post-failover block holds (`sengu-drill manual status`): a person decided; the documented way to make the one-shot switch in manual mode'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand mysql" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l service -d 'Only the drills of this service (or node)' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l limit -d 'Show at most the last N drills' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l name -d 'The Redis service or the MySQL master node, as the other executables call it (e.g. redis, foo-db-master)' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l reason -d 'Why (required for on): shown in every status output and in the checks\' output' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l for -d 'Turn manual mode off by itself after this long, e.g. 2h (on only) [default: until `off`]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sengu-drill -n "__fish_sengu_drill_using_subcommand manual" -s h -l help -d 'Print help (see more with \'--help\')'

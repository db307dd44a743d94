# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_consul_hosts_fallback_global_optspecs
    string join \n service= replicas= master-tag= replica-tag= datacenter= domain= state-file= hosts-file= dns-server= interval= max-age= print-config config= timeout= format= log-file= syslog= consul-addr= h/help V/version
end

function __fish_consul_hosts_fallback_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_consul_hosts_fallback_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_consul_hosts_fallback_using_subcommand
    set -l cmd (__fish_consul_hosts_fallback_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l service -d 'A Consul service whose master gets a fallback entry; repeat for each (env: comma-separated)' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l replicas -d 'Also keep `<replica-tag>.<service>.service.<domain>` with every passing replica' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l datacenter -d 'Consul datacenter in the names [default: none, the names clients use without one]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l domain -d 'Consul DNS domain [default: consul]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l state-file -d 'The last good entries, written atomically; read by no resolver [default: /var/lib/sengu-hosts-fallback/last-good]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l hosts-file -d 'The hosts file whose managed block holds the entries while DNS cannot answer [default: /etc/hosts]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l dns-server -d 'The DNS server clients use (the local dnsmasq), asked whether it answers [default: 127.0.0.1:53]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l interval -d 'watch: time between two passes [default: 2s]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l max-age -d 'check: warn when the state file was not confirmed for longer than this [default: 10m]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -s V -l version -d 'Print version'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -f -a "sync" -d 'One pass: update the state file from Consul, then the hosts file\'s managed block (a timer)'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -f -a "watch" -d 'A pass every --interval until stopped (a systemd service)'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_needs_command" -f -a "check" -d 'Consul check: warn when the fallback is stale or disagrees with Consul; critical when it shadows a live answer'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l service -d 'A Consul service whose master gets a fallback entry; repeat for each (env: comma-separated)' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l replicas -d 'Also keep `<replica-tag>.<service>.service.<domain>` with every passing replica' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l datacenter -d 'Consul datacenter in the names [default: none, the names clients use without one]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l domain -d 'Consul DNS domain [default: consul]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l state-file -d 'The last good entries, written atomically; read by no resolver [default: /var/lib/sengu-hosts-fallback/last-good]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l hosts-file -d 'The hosts file whose managed block holds the entries while DNS cannot answer [default: /etc/hosts]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l dns-server -d 'The DNS server clients use (the local dnsmasq), asked whether it answers [default: 127.0.0.1:53]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l interval -d 'watch: time between two passes [default: 2s]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l max-age -d 'check: warn when the state file was not confirmed for longer than this [default: 10m]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l service -d 'A Consul service whose master gets a fallback entry; repeat for each (env: comma-separated)' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l replicas -d 'Also keep `<replica-tag>.<service>.service.<domain>` with every passing replica' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l datacenter -d 'Consul datacenter in the names [default: none, the names clients use without one]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l domain -d 'Consul DNS domain [default: consul]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l state-file -d 'The last good entries, written atomically; read by no resolver [default: /var/lib/sengu-hosts-fallback/last-good]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l hosts-file -d 'The hosts file whose managed block holds the entries while DNS cannot answer [default: /etc/hosts]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l dns-server -d 'The DNS server clients use (the local dnsmasq), asked whether it answers [default: 127.0.0.1:53]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l interval -d 'watch: time between two passes [default: 2s]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l max-age -d 'check: warn when the state file was not confirmed for longer than this [default: 10m]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l service -d 'A Consul service whose master gets a fallback entry; repeat for each (env: comma-separated)' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l replicas -d 'Also keep `<replica-tag>.<service>.service.<domain>` with every passing replica' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l datacenter -d 'Consul datacenter in the names [default: none, the names clients use without one]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l domain -d 'Consul DNS domain [default: consul]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l state-file -d 'The last good entries, written atomically; read by no resolver [default: /var/lib/sengu-hosts-fallback/last-good]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l hosts-file -d 'The hosts file whose managed block holds the entries while DNS cannot answer [default: /etc/hosts]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l dns-server -d 'The DNS server clients use (the local dnsmasq), asked whether it answers [default: 127.0.0.1:53]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l interval -d 'watch: time between two passes [default: 2s]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l max-age -d 'check: warn when the state file was not confirmed for longer than this [default: 10m]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c consul-hosts-fallback -n "__fish_consul_hosts_fallback_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'

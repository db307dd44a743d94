# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sentinel_rebalance_global_optspecs
    string join \n sentinel-master= redis= peer-redis= sentinel= peer-sentinel= floating= peer-floating= floating-myid= floating-config= floating-script= quorum= down-after= failover-timeout= service= master-tag= replica-tag= lock-file= reset-wait= replica-wait= settle-time= print-config config= timeout= format= log-file= syslog= consul-addr= h/help V/version
end

function __fish_sentinel_rebalance_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sentinel_rebalance_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sentinel_rebalance_using_subcommand
    set -l cmd (__fish_sentinel_rebalance_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l sentinel-master -d 'The master name the sentinels monitor' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l redis -d 'This host\'s Redis' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l peer-redis -d 'The other host\'s Redis' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l sentinel -d 'This host\'s fixed sentinel' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l peer-sentinel -d 'The other host\'s fixed sentinel' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l floating -d 'Where the floating sentinel listens when it runs on this host' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l peer-floating -d 'Where it listens when it runs on the other host' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l floating-myid -d 'The floating sentinel\'s fixed `sentinel myid` (40 hex characters)' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l floating-config -d 'The floating sentinel\'s config file, written fresh before each start (absolute path)' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l floating-script -d 'The client-reconfig-script written into that config [default: this executable]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l quorum -d 'Quorum of the floating sentinel\'s monitor line [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l down-after -d 'down-after-milliseconds for the floating sentinel, e.g. 5s [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l failover-timeout -d 'failover-timeout for the floating sentinel, e.g. 3m [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l service -d 'Consul service whose master/replica tags follow the master [default: tags untouched]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l lock-file -d 'Lock file serialising runs on this host [default: /run/lock/sentinel-rebalance.lock]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l reset-wait -d 'Pause between two SENTINEL RESETs of `reconcile --reset` [default: 30s]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l replica-wait -d 'How long to wait for this host\'s Redis to become a healthy replica before a move [default: 40s]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l settle-time -d 'No sentinel moves until the master has been the master this long [default: the sentinels\' failover-timeout]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -s V -l version -d 'Print version'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -a "reconcile" -d 'Compare the sentinels\' layout with the current master and fix it (timer, boot)'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_needs_command" -a "status" -d 'Show the master, where each sentinel runs and what reconcile would change'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l sentinel-master -d 'The master name the sentinels monitor' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l redis -d 'This host\'s Redis' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l peer-redis -d 'The other host\'s Redis' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l sentinel -d 'This host\'s fixed sentinel' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l peer-sentinel -d 'The other host\'s fixed sentinel' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l floating -d 'Where the floating sentinel listens when it runs on this host' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l peer-floating -d 'Where it listens when it runs on the other host' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l floating-myid -d 'The floating sentinel\'s fixed `sentinel myid` (40 hex characters)' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l floating-config -d 'The floating sentinel\'s config file, written fresh before each start (absolute path)' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l floating-script -d 'The client-reconfig-script written into that config [default: this executable]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l quorum -d 'Quorum of the floating sentinel\'s monitor line [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l down-after -d 'down-after-milliseconds for the floating sentinel, e.g. 5s [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l failover-timeout -d 'failover-timeout for the floating sentinel, e.g. 3m [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l service -d 'Consul service whose master/replica tags follow the master [default: tags untouched]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l lock-file -d 'Lock file serialising runs on this host [default: /run/lock/sentinel-rebalance.lock]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l reset-wait -d 'Pause between two SENTINEL RESETs of `reconcile --reset` [default: 30s]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l replica-wait -d 'How long to wait for this host\'s Redis to become a healthy replica before a move [default: 40s]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l settle-time -d 'No sentinel moves until the master has been the master this long [default: the sentinels\' failover-timeout]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l reset -d 'Also make the sentinels forget stopped extra sentinels: SENTINEL RESET on one at a time, waiting between them'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand reconcile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l sentinel-master -d 'The master name the sentinels monitor' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l redis -d 'This host\'s Redis' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l peer-redis -d 'The other host\'s Redis' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l sentinel -d 'This host\'s fixed sentinel' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l peer-sentinel -d 'The other host\'s fixed sentinel' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l floating -d 'Where the floating sentinel listens when it runs on this host' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l peer-floating -d 'Where it listens when it runs on the other host' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l floating-myid -d 'The floating sentinel\'s fixed `sentinel myid` (40 hex characters)' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l floating-config -d 'The floating sentinel\'s config file, written fresh before each start (absolute path)' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l floating-script -d 'The client-reconfig-script written into that config [default: this executable]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l quorum -d 'Quorum of the floating sentinel\'s monitor line [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l down-after -d 'down-after-milliseconds for the floating sentinel, e.g. 5s [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l failover-timeout -d 'failover-timeout for the floating sentinel, e.g. 3m [default: the fixed sentinels\']' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l service -d 'Consul service whose master/replica tags follow the master [default: tags untouched]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l master-tag -d 'The tag that marks the master [default: master]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l replica-tag -d 'The tag that marks a replica [default: replica]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l lock-file -d 'Lock file serialising runs on this host [default: /run/lock/sentinel-rebalance.lock]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l reset-wait -d 'Pause between two SENTINEL RESETs of `reconcile --reset` [default: 30s]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l replica-wait -d 'How long to wait for this host\'s Redis to become a healthy replica before a move [default: 40s]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l settle-time -d 'No sentinel moves until the master has been the master this long [default: the sentinels\' failover-timeout]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l config -d 'Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l timeout -d 'Time budget for the whole run, e.g. 2s or 500ms' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l format -d 'Output format [default: text]' -r -f -a "text\t'`STATUS: summary`, then one line per sub-result and its details'
json\t'One JSON object on one line, with the same exit code as the text form'"
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l log-file -d 'Append one line per action to this file (also [log] file)' -r -F
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l syslog -d 'Also send each action to the local syslog (also [log] syslog)' -r -f -a "true\t''
false\t''"
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l consul-addr -d 'Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]' -r
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -l print-config -d 'Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running'
complete -c sentinel-rebalance -n "__fish_sentinel_rebalance_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'

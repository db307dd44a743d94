_sentinel__rebalance() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="sentinel__rebalance"
                ;;
            sentinel__rebalance,reconcile)
                cmd="sentinel__rebalance__subcmd__reconcile"
                ;;
            sentinel__rebalance,status)
                cmd="sentinel__rebalance__subcmd__status"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        sentinel__rebalance)
            opts="-h -V --sentinel-master --redis --peer-redis --sentinel --peer-sentinel --floating --peer-floating --floating-myid --floating-config --floating-script --quorum --down-after --failover-timeout --service --master-tag --replica-tag --lock-file --reset-wait --replica-wait --settle-time --print-config --config --timeout --format --log-file --syslog --consul-addr --help --version leader observer start reconcile status"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --sentinel-master)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sentinel)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-sentinel)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-floating)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-myid)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-script)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quorum)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --down-after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --failover-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --service)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lock-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reset-wait)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-wait)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --settle-time)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --log-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --syslog)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --consul-addr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        sentinel__subcmd__rebalance__subcmd__reconcile)
            opts="-h --reset --sentinel-master --redis --peer-redis --sentinel --peer-sentinel --floating --peer-floating --floating-myid --floating-config --floating-script --quorum --down-after --failover-timeout --service --master-tag --replica-tag --lock-file --reset-wait --replica-wait --settle-time --print-config --config --timeout --format --log-file --syslog --consul-addr --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --sentinel-master)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sentinel)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-sentinel)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-floating)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-myid)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-script)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quorum)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --down-after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --failover-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --service)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lock-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reset-wait)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-wait)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --settle-time)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --log-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --syslog)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --consul-addr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        sentinel__subcmd__rebalance__subcmd__status)
            opts="-h --sentinel-master --redis --peer-redis --sentinel --peer-sentinel --floating --peer-floating --floating-myid --floating-config --floating-script --quorum --down-after --failover-timeout --service --master-tag --replica-tag --lock-file --reset-wait --replica-wait --settle-time --print-config --config --timeout --format --log-file --syslog --consul-addr --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --sentinel-master)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sentinel)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-sentinel)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-floating)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-myid)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --floating-script)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quorum)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --down-after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --failover-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --service)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-tag)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lock-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reset-wait)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-wait)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --settle-time)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --log-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --syslog)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --consul-addr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _sentinel__rebalance -o nosort -o bashdefault -o default sentinel-rebalance
else
    complete -F _sentinel__rebalance -o bashdefault -o default sentinel-rebalance
fi

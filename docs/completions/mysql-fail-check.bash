_mysql__fail__check() {
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
                cmd="mysql__fail__check"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        mysql__fail__check)
            opts="-h -V --confirm-runs --fail-after --replica --master-alias --max-silence --when-no-replicas --state-dir --consul-node --replica-service --master-node --hold --mysql-defaults-file --mysql-user --print-config --config --timeout --format --log-file --syslog --consul-addr --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --confirm-runs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fail-after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master-alias)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-silence)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --when-no-replicas)
                    COMPREPLY=($(compgen -W "no-failover failover consul" -- "${cur}"))
                    return 0
                    ;;
                --state-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --consul-node)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-service)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master-node)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hold)
                    COMPREPLY=($(compgen -W "obey ignore" -- "${cur}"))
                    return 0
                    ;;
                --mysql-defaults-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mysql-user)
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
    complete -F _mysql__fail__check -o nosort -o bashdefault -o default mysql-fail-check
else
    complete -F _mysql__fail__check -o bashdefault -o default mysql-fail-check
fi

_mysql__after__exec() {
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
                cmd="mysql__after__exec"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        mysql__after__exec)
            opts="-h -V --old-master --new-master --make-writable --kv-format --wait-dns --wait-dns-name --wait-dns-timeout --block-after-failover --master-node --replica-node --kv-key --service --mysql-timeout --mysql-defaults-file --mysql-user --print-config --config --timeout --format --log-file --syslog --consul-addr --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --old-master)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new-master)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --make-writable)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --kv-format)
                    COMPREPLY=($(compgen -W "plain json" -- "${cur}"))
                    return 0
                    ;;
                --wait-dns)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --wait-dns-name)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --wait-dns-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block-after-failover)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master-node)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replica-node)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --kv-key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --service)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mysql-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
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
    complete -F _mysql__after__exec -o nosort -o bashdefault -o default mysql-after-exec
else
    complete -F _mysql__after__exec -o bashdefault -o default mysql-after-exec
fi

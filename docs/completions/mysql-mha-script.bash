_mysql__mha__script() {
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
                cmd="mysql__mha__script"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        mysql__mha__script)
            opts="-h -V --command --orig_master_host --orig_master_ip --orig_master_port --new_master_host --new_master_ip --new_master_port --orig_master_user --new_master_user --orig_master_is_new_slave --orig_master_password --new_master_password --ssh_user --orig_master_ssh_user --new_master_ssh_user --orig_master_ssh_host --orig_master_ssh_ip --orig_master_ssh_port --new_master_ssh_host --new_master_ssh_ip --new_master_ssh_port --ssh_options --fence-old-master --fence-timeout --make-writable --kv-format --wait-dns --wait-dns-name --wait-dns-timeout --block-after-failover --master-node --replica-node --kv-key --service --mysql-timeout --mysql-defaults-file --mysql-user --print-config --config --timeout --format --log-file --syslog --consul-addr --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --command)
                    COMPREPLY=($(compgen -W "status stop stopssh start" -- "${cur}"))
                    return 0
                    ;;
                --orig_master_host)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_host)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_password)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_password)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ssh_user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_ssh_user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_ssh_user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_ssh_host)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_ssh_ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --orig_master_ssh_port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_ssh_host)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_ssh_ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --new_master_ssh_port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ssh_options)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fence-old-master)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --fence-timeout)
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
    complete -F _mysql__mha__script -o nosort -o bashdefault -o default mysql-mha-script
else
    complete -F _mysql__mha__script -o bashdefault -o default mysql-mha-script
fi

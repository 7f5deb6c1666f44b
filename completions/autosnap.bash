# bash completion for the autosnap bundle: autosnap, pve-snapshot, ontap-snapshot,
# backup-hook, backup-wakeup, backup-sync (also `autosnap <tool> ...`).
#
# Install as /usr/share/bash-completion/completions/<tool> for each tool (a copy or a
# link of this file), or source it from ~/.bashrc.
#
# Options come from the tool's own --help (read once per shell and cached), so they stay
# current as the tools grow. Guest ids, names, selectors and snapshot names come from the
# cluster through the hidden `pve-snapshot __complete` action, bounded by a short timeout;
# connection settings typed on the command line (--host, --config, ...) are passed along.

_autosnap_tools="autosnap pve-snapshot ontap-snapshot backup-hook backup-wakeup backup-sync"
_autosnap_formats="text json jsonpretty markdown html unicode unicodeAlt"
_autosnap_timeout=${AUTOSNAP_COMPLETION_TIMEOUT:-3}
declare -gA _autosnap_help_cache 2>/dev/null || true

# The real executable behind the command word: a link named after a tool resolves to the
# one binary, which then picks the tool from its first argument.
_autosnap_bin() {
    local p
    p=$(type -P -- "$1" 2>/dev/null) || p=$1
    readlink -f -- "$p" 2>/dev/null || printf '%s\n' "$p"
}

# _autosnap_call BIN TOOL ARGS...: run TOOL of the bundle, quietly and bounded in time.
_autosnap_call() {
    local bin=$1 tool=$2 base
    shift 2
    base=${bin##*/}
    local -a cmd=("$bin")
    if [[ $base != "$tool" ]]; then
        case " $_autosnap_tools " in
            *" $base "*) [[ $base == autosnap ]] || return 1 ;;
        esac
        cmd+=("$tool")
    fi
    if type -P timeout >/dev/null 2>&1; then
        timeout "$_autosnap_timeout" "${cmd[@]}" "$@" 2>/dev/null </dev/null
    else
        "${cmd[@]}" "$@" 2>/dev/null </dev/null
    fi
}

# Long options a tool (and action) documents in its --help, cached per shell.
_autosnap_options() {
    local bin=$1 tool=$2 action=$3 key="$1|$2|$3"
    if [[ -z ${_autosnap_help_cache[$key]+set} ]]; then
        local text
        if [[ -n $action ]]; then
            text=$(_autosnap_call "$bin" "$tool" "$action" --help)
        else
            text=$(_autosnap_call "$bin" "$tool" --help)
        fi
        _autosnap_help_cache[$key]=$(printf '%s\n' "$text" | grep -oE -- '(^|[[:space:],[(|])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
    fi
    printf '%s\n' "${_autosnap_help_cache[$key]}"
}

# Connection options already on the command line, for the calls to the cluster.
_autosnap_conn_args() {
    local i w
    for ((i = 1; i < ${#words[@]}; i++)); do
        w=${words[i]}
        case $w in
            --host | --config | --api-token | --api-token-file | --username | --password-file | --fingerprint | --ca-file | --transport | --pvesh)
                [[ $i -lt $((cword)) && -n ${words[i + 1]} ]] && printf '%s\n%s\n' "$w" "${words[i + 1]}"
                ((i++))
                ;;
            --host=* | --config=* | --api-token=* | --api-token-file=* | --username=* | --password-file=* | --fingerprint=* | --ca-file=* | --transport=* | --pvesh=*)
                printf '%s\n' "$w"
                ;;
            --insecure) printf '%s\n' "$w" ;;
        esac
    done
}

# Words from the cluster: guests (vmids and names), selectors (those plus @all, @pool-...),
# snapshots GUEST, storages.
_autosnap_cluster() {
    local bin=$1
    shift
    local -a conn=()
    local line
    while IFS= read -r line; do conn+=("$line"); done < <(_autosnap_conn_args)
    _autosnap_call "$bin" pve-snapshot __complete "$@" "${conn[@]}"
}

# Complete a selector list: only the part after the last comma (and a leading '-').
_autosnap_complete_selector() {
    local bin=$1 cur=$2 kind=${3:-selectors} head="" tail=$2
    if [[ $cur == *,* ]]; then
        head=${cur%,*},
        tail=${cur##*,}
    fi
    if [[ $tail == -* ]]; then
        head+=-
        tail=${tail#-}
    fi
    local w
    local -a found=()
    while IFS= read -r w; do
        [[ -n $w && $w == "$tail"* ]] && found+=("$head$w")
    done < <(_autosnap_cluster "$bin" "$kind")
    COMPREPLY=("${found[@]}")
}

_autosnap_complete() {
    local cur prev words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur prev words cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
    fi
    COMPREPLY=()
    local bin tool first=1
    bin=$(_autosnap_bin "${words[0]}")
    tool=${words[0]##*/}
    case " $_autosnap_tools " in *" $tool "*) ;; *) tool=autosnap ;; esac
    # `autosnap pve-snapshot ...`: the tool is the first argument
    if [[ $tool == autosnap && $cword -ge 2 ]]; then
        case " $_autosnap_tools " in *" ${words[1]} "*) tool=${words[1]}; first=2 ;; esac
    fi
    if [[ $tool == autosnap && $cword -eq 1 && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "snap clean status run plan report ${_autosnap_tools#autosnap }" -- "$cur"))
        return 0
    fi

    # values of options
    case $prev in
        -o | --output) COMPREPLY=($(compgen -W "$_autosnap_formats" -- "$cur")); return 0 ;;
        --transport) COMPREPLY=($(compgen -W "api pvesh" -- "$cur")); return 0 ;;
        --policy) COMPREPLY=($(compgen -W "intraday" -- "$cur")); return 0 ;;
        --shutdown) COMPREPLY=($(compgen -W "auto yes no" -- "$cur")); return 0 ;;
        --config | --api-token-file | --password-file | --ca-file | --pvesh | --script | --from-file | --html | --ontap-config | --lock-file)
            COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        --vmid) _autosnap_complete_selector "$bin" "$cur" selectors; return 0 ;;
        --vm) _autosnap_complete_selector "$bin" "$cur" guests; return 0 ;;
        --storage) COMPREPLY=($(compgen -W "$(_autosnap_cluster "$bin" storages)" -- "$cur")); return 0 ;;
        --host | --api-token | --username | --fingerprint | --timeout | --description | --older-than | --match | --label | --keep | --tz | --max-parallel | --max-per-node | --snapshot | --clone | --keep-last | --keep-hourly | --keep-daily | --keep-weekly | --keep-monthly | --keep-yearly | --tiers | --at | --job | --tags | --timestamp-format | --max-perc-storage | --lock-wait | --hook-timeout | --budget | --before | --password)
            return 0 ;;
    esac

    # positional words (options and their values skipped)
    local -a pos=()
    local i w
    for ((i = first; i < cword; i++)); do
        w=${words[i]}
        case $w in
            --*=*) ;;
            -o | --output | --transport | --policy | --shutdown | --config | --api-token-file | --password-file | --ca-file | --pvesh | --script | --vmid | --vm | --storage | --host | --api-token | --username | --fingerprint | --timeout | --description | --older-than | --match | --label | --keep | --tz | --max-parallel | --max-per-node | --snapshot | --clone | --keep-last | --keep-hourly | --keep-daily | --keep-weekly | --keep-monthly | --keep-yearly | --tiers | --at | --job | --tags | --timestamp-format | --max-perc-storage | --lock-wait | --hook-timeout | --budget | --before | --password | --from-file | --html | --ontap-config | --lock-file | --loglevel | --snapmirror-label | --expiry)
                ((i++)) ;;
            -*) ;;
            *) pos+=("$w") ;;
        esac
    done
    local action=${pos[0]}

    if [[ $cur == -* ]]; then
        local opts
        opts=$(_autosnap_options "$bin" "$tool" "$action")
        [[ -z $opts ]] && opts="--help --version --config --host --api-token --api-token-file --fingerprint --insecure --output --debug --quiet"
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi

    case $tool in
        pve-snapshot)
            case ${#pos[@]} in
                0) COMPREPLY=($(compgen -W "list create rollback delete config describe help" -- "$cur")) ;;
                1)
                    case $action in
                        config | describe) _autosnap_complete_selector "$bin" "$cur" guests ;;
                        help) COMPREPLY=($(compgen -W "list create rollback delete config describe" -- "$cur")) ;;
                        *) _autosnap_complete_selector "$bin" "$cur" selectors ;;
                    esac
                    ;;
                2)
                    case $action in
                        rollback | delete | config | describe)
                            COMPREPLY=($(compgen -W "$(_autosnap_cluster "$bin" snapshots "${pos[1]}")" -- "$cur")) ;;
                    esac
                    ;;
            esac
            ;;
        autosnap)
            [[ ${#pos[@]} -eq 0 ]] && COMPREPLY=($(compgen -W "snap clean status run plan report" -- "$cur"))
            ;;
        ontap-snapshot)
            case ${#pos[@]} in
                0) COMPREPLY=($(compgen -W "vm storage" -- "$cur")) ;;
                1)
                    case $action in
                        vm) COMPREPLY=($(compgen -W "create list delete" -- "$cur")) ;;
                        storage) COMPREPLY=($(compgen -W "create list delete restore mount unmount show snap" -- "$cur")) ;;
                    esac
                    ;;
            esac
            ;;
        backup-hook)
            [[ ${#pos[@]} -eq 0 ]] && COMPREPLY=($(compgen -W "job-init job-start job-end job-abort backup-start backup-end backup-abort log-end pre-stop pre-restart post-restart" -- "$cur"))
            ;;
    esac
    return 0
}

complete -F _autosnap_complete autosnap pve-snapshot ontap-snapshot backup-hook backup-wakeup backup-sync

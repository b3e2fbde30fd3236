# bash completion for bondingfs(8) and ifenslave(8).
#
# Completes the subcommands and flags of bondingfs, the bonding module
# options (name=value, with the values of the enumerated ones), and bond and
# slave names read from the mount: <root>/sys/class/net/bonding_masters and
# <root>/sys/class/net/<bond>/bonding/slaves, where <root> is --root on the
# command line, else $BONDINGFS_ROOT, else /run/bondingfs; the real paths
# (/sys/class/net) when that root has no tree. ifenslave reads
# $IFENSLAVE_SYSFS, else /sys/class/net, as ifenslave itself does.
# Installed as .../bash-completion/completions/bondingfs and .../ifenslave.

_bondingfs_subcommands='serve exec modprobe status check-config version help --version --help'
_bondingfs_modopts='max_bonds= tx_queues= num_grat_arp= num_unsol_na= miimon= updelay= downdelay=
use_carrier= mode= primary= primary_reselect= lacp_rate= ad_select= min_links= xmit_hash_policy=
arp_interval= arp_ip_target= arp_validate= arp_all_targets= fail_over_mac= all_slaves_active=
resend_igmp= packets_per_slave= lp_interval='
_bondingfs_flags_serve='--root --netns --log --config --real-paths --unloaded --ctl --state --metrics --datapath --fuse-debug --help'
_bondingfs_flags_exec='--root --netns --log --state --ctl --help --'
_bondingfs_flags_modprobe='-r --remove --root --ctl --log --help'
_bondingfs_flags_status='--json --root --ctl --help'

# _bondingfs_modopt_values NAME: the values of an enumerated module option.
_bondingfs_modopt_values()
{
    case $1 in
        mode) echo balance-rr active-backup balance-xor broadcast 802.3ad balance-tlb balance-alb ;;
        primary_reselect) echo always better failure ;;
        lacp_rate) echo slow fast ;;
        ad_select) echo stable bandwidth count ;;
        xmit_hash_policy) echo layer2 layer3+4 layer2+3 encap2+3 encap3+4 vlan+srcmac ;;
        arp_validate) echo none active backup all filter filter_active filter_backup ;;
        arp_all_targets) echo any all ;;
        fail_over_mac) echo none active follow ;;
        use_carrier | all_slaves_active) echo 0 1 ;;
        primary) _bondingfs_netdevs /sys/class/net ;;
    esac
}

# _bondingfs_class ROOT: the sysfs class directory of the tree at ROOT, or
# the real one when ROOT serves none.
_bondingfs_class()
{
    if [[ -r $1/sys/class/net/bonding_masters ]]; then
        echo "$1/sys/class/net"
    else
        echo /sys/class/net
    fi
}

# _bondingfs_bonds CLASSDIR: the bonds listed in CLASSDIR/bonding_masters.
_bondingfs_bonds()
{
    local m
    [[ -r $1/bonding_masters ]] && read -r m <"$1/bonding_masters" 2>/dev/null && echo "$m"
}

# _bondingfs_slaves CLASSDIR BOND: the slaves of BOND.
_bondingfs_slaves()
{
    local s
    [[ -r $1/$2/bonding/slaves ]] && read -r s <"$1/$2/bonding/slaves" 2>/dev/null && echo "$s"
}

# _bondingfs_netdevs CLASSDIR: every network device of CLASSDIR.
_bondingfs_netdevs()
{
    local d
    for d in "$1"/*/; do
        [[ -d $d ]] && d=${d%/} && echo "${d##*/}"
    done
}

# _bondingfs_reply CUR WORD...: COMPREPLY from the words matching CUR, with
# what COMP_WORDBREAKS already split off CUR (up to its last "=") removed;
# no space after a word ending in "=".
_bondingfs_reply()
{
    local cur=$1 w
    shift
    COMPREPLY=()
    while IFS= read -r w; do
        [[ -n $w ]] && COMPREPLY+=("$w")
    done < <(compgen -W "$*" -- "$cur")
    if [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then
        local pre=${cur%=*}=
        COMPREPLY=("${COMPREPLY[@]#"$pre"}")
    fi
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

# _bondingfs_files CUR [-d]: file (or, with -d, directory) names.
_bondingfs_files()
{
    local f opt=-f
    [[ -n ${2:-} ]] && opt=-d
    COMPREPLY=()
    while IFS= read -r f; do
        COMPREPLY+=("$f")
    done < <(compgen "$opt" -- "$1")
    compopt -o filenames 2>/dev/null
    return 0
}

# _bondingfs_split: the words before the cursor in words[], the word under it
# in cur, split on blanks only (so "mode=act" stays one word whatever
# COMP_WORDBREAKS holds).
_bondingfs_split()
{
    local line=${COMP_LINE:0:COMP_POINT}
    read -ra words <<<"$line"
    if [[ -z $line || $line == *[[:blank:]] ]]; then
        cur=
    else
        cur=${words[${#words[@]}-1]}
        unset 'words[${#words[@]}-1]'
    fi
}

_bondingfs()
{
    local cur words
    _bondingfs_split
    local n=${#words[@]} prev=${words[${#words[@]}-1]}
    if ((n <= 1)); then
        _bondingfs_reply "$cur" $_bondingfs_subcommands
        return
    fi
    local cmd=${words[1]} root=${BONDINGFS_ROOT:-/run/bondingfs} i dashdash=0 remove=0
    for ((i = 2; i < n; i++)); do
        case ${words[i]} in
            --root | -root) root=${words[i+1]:-$root} ;;
            --root=* | -root=*) root=${words[i]#*=} ;;
            --) dashdash=$i; break ;;
            -r | --remove) remove=1 ;;
        esac
    done

    # the value of a flag
    case $prev in
        --root | -root | --state | -state)
            _bondingfs_files "$cur" -d; return ;;
        --log | -log | --ctl | -ctl | --config | -config)
            _bondingfs_files "$cur"; return ;;
        --netns | -netns)
            _bondingfs_reply "$cur" "$(ip netns list 2>/dev/null | cut -d' ' -f1)"; return ;;
        --metrics | -metrics)
            return ;;
        --datapath | -datapath)
            _bondingfs_reply "$cur" "auto ebpf userspace"; return ;;
    esac
    if [[ $cur == --*=* ]]; then
        return
    fi

    # a module option's value
    if [[ $cur == *=* && $cmd == @(serve|exec|modprobe) ]]; then
        _bondingfs_reply "$cur" "$(for v in $(_bondingfs_modopt_values "${cur%%=*}"); do echo "${cur%%=*}=$v"; done)"
        return
    fi

    case $cmd in
        serve)
            _bondingfs_reply "$cur" $_bondingfs_flags_serve $_bondingfs_modopts ;;
        exec)
            if ((dashdash > 0)); then
                if ((n == dashdash + 1)); then
                    COMPREPLY=($(compgen -c -- "$cur"))
                else
                    _bondingfs_files "$cur"
                fi
            else
                _bondingfs_reply "$cur" $_bondingfs_flags_exec $_bondingfs_modopts
            fi ;;
        modprobe)
            if ((remove)); then
                _bondingfs_reply "$cur" $_bondingfs_flags_modprobe
            else
                _bondingfs_reply "$cur" $_bondingfs_flags_modprobe $_bondingfs_modopts
            fi ;;
        status)
            if [[ $cur == -* ]]; then
                _bondingfs_reply "$cur" $_bondingfs_flags_status
            else
                _bondingfs_reply "$cur" $(_bondingfs_bonds "$(_bondingfs_class "$root")")
            fi ;;
        check-config)
            if [[ $cur == -* ]]; then
                _bondingfs_reply "$cur" --help
            else
                _bondingfs_files "$cur"
            fi ;;
    esac
}

_ifenslave()
{
    local cur words
    _bondingfs_split
    local n=${#words[@]} class=${IFENSLAVE_SYSFS:-/sys/class/net} i op=enslave master=
    local -a operands=()
    for ((i = 1; i < n; i++)); do
        case ${words[i]} in
            --det*) op=detach ;;
            --ch*) op=change ;;
            --) ;;
            --*) ;;
            -*) [[ ${words[i]} == *d* ]] && op=detach; [[ ${words[i]} == *c* ]] && op=change ;;
            *) operands+=("${words[i]}") ;;
        esac
    done
    if [[ $cur == -* ]]; then
        _bondingfs_reply "$cur" -a -c -d -f -h -u -v -V --all-interfaces --change-active --detach \
            --force --help --usage --verbose --version
        return
    fi
    if ((${#operands[@]} == 0)); then
        _bondingfs_reply "$cur" $(_bondingfs_bonds "$class")
        return
    fi
    master=${operands[0]}
    case $op in
        detach | change)
            _bondingfs_reply "$cur" $(_bondingfs_slaves "$class" "$master") ;;
        *)
            # devices that are neither a bond nor a slave already
            local d cands=
            for d in $(_bondingfs_netdevs "$class"); do
                [[ -d $class/$d/bonding || -d $class/$d/bonding_slave || $d == lo ]] || cands+=" $d"
            done
            _bondingfs_reply "$cur" $cands ;;
    esac
}

complete -F _bondingfs bondingfs
complete -F _ifenslave ifenslave

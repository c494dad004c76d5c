function __vqscope_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vqscope_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __vqscope_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vqscope_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __vqscope_parse_tokens -S
    set -l unparsed_tokens (__vqscope_tokens -pc)
    switch $unparsed_tokens[1]
    case 'vqscope'
        __vqscope_parse_subcommand 0 'h/help'
        switch $unparsed_tokens[1]
        case 'inspect'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'refresh=' 'events=' 'h/help'
        case 'demo'
            __vqscope_parse_subcommand 0 'refresh=' 'serve' 'h/help'
        case 'list'
            __vqscope_parse_subcommand 0 'json' 'h/help'
        case 'slots'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'json' 'h/help'
        case 'translate'
            __vqscope_parse_subcommand -r 1 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'hpa' 'json' 'h/help'
        case 'hexdump'
            __vqscope_parse_subcommand 2 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'json' 'h/help'
        case 'queues'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'json' 'h/help'
        case 'dump'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'queue=' 'desc=' 'num=' 'avail=' 'used=' 'legacy' 'packed' 'driver=' 'device=' 'json' 'h/help'
        case 'watch'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'queue=' 'interval=' 'count=' 'seconds=' 'threshold=' 'json' 'events=' 'h/help'
        case 'capture'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'device=' 'w=' 'c=' 'seconds=' 'interval=' 's=' 'events=' 'h/help'
        case 'scan'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'minimum-score=' 'json' 'h/help'
        case 'diagnose'
            __vqscope_parse_subcommand 0 'pid=' 'libvirt=' 'no-libvirt' 'image=' 'base=' 'slots=' 'qmp=' 'no-qmp' 'qmp-timeout=' 'queue=' 'seconds=' 'threshold=' 'no-history' 'json' 'events=' 'h/help'
        case 'help'
            __vqscope_parse_subcommand -r 1 
        end
    end
end

function __vqscope_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __vqscope_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __vqscope_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __vqscope_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__vqscope_tokens -p)
    if test -z "$(__vqscope_tokens -t)"
        set -l index (count (__vqscope_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'vqscope' -f
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'inspect' -d 'Show a guest\'s virtio rings live in the terminal (the default command).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'demo' -d 'Inspect a built-in simulated guest: no QEMU or root needed.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'list' -d 'List the QEMU processes on this host.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'slots' -d 'Show the slot map: which guest-physical ranges live where in the host.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'translate' -d 'Translate guest-physical addresses to host-virtual (and host-physical) addresses.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'hexdump' -d 'Dump guest-physical memory, read through the slot map.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'queues' -d 'List the virtqueues of a guest: device, layout, size, ring addresses and indexes.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'dump' -d 'Decode one virtqueue: descriptor table, avail and used rings (or packed ring), in-flight chains, payloads.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'watch' -d 'Follow virtqueues live: one line per new available chain, completion, lapped ring, stall or recovery.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'capture' -d 'Capture virtio-net frames into a pcapng file, or virtio-blk requests as JSON lines, while the guest runs.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'scan' -d 'Find split and packed virtqueues by scanning guest RAM (no QMP needed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'diagnose' -d 'Say why virtqueues are stuck: idle, busy, waiting, stalled, starved or broken, with the reason.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_positional "vqscope" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" refresh' -l 'refresh' -d 'Frames a second (the + and - keys change it).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" events' -l 'events' -d 'Where events come from: bpf (eBPF uprobes in QEMU: every kick, pop, completion and interrupt), poll (the rings in guest memory), auto (bpf when possible, else poll, saying why).' -rfka 'auto bpf poll'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope inspect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope demo" refresh' -l 'refresh' -d 'Frames a second (the + and - keys change it).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope demo" serve' -l 'serve' -d 'Do not open the inspector: print the simulated guest\'s PID and QMP socket and keep it running until interrupted, for the other commands (`vqscope queues --pid PID`).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope demo" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope list" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope slots" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" hpa' -l 'hpa' -d 'Also give host-physical addresses, from /proc/PID/pagemap (needs root for frame numbers).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope translate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" json' -l 'json' -d 'Print JSON (the bytes as a hex string).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope hexdump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope queues" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" queue' -l 'queue' -d 'The queue: DEVICE:INDEX (DEVICE: name, id, PCI address or QOM path; without QMP, a scan\'s guess).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" desc' -l 'desc' -d 'The descriptor table (split) or ring (packed), instead of --queue.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" num' -l 'num' -d 'The queue size, with --desc.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" avail' -l 'avail' -d 'Split ring: the available ring.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" used' -l 'used' -d 'Split ring: the used ring.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" legacy' -l 'legacy' -d 'Split ring: the legacy layout (avail after the table, used on the next 4 KiB boundary) instead of --avail and --used.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" packed' -l 'packed' -d 'The ring at --desc is packed.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" driver' -l 'driver' -d 'Packed ring: the driver event suppression area.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" device' -l 'device' -d 'Packed ring: the device event suppression area.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope dump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" queue' -l 'queue' -d 'Watch one queue (DEVICE:INDEX; DEVICE: name, id, PCI address or QOM path). Default: every queue.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" interval' -l 'interval' -d 'Milliseconds between polls.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" count' -l 'count' -d 'Stop after this many events.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" seconds' -l 'seconds' -d 'Stop after this many seconds.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" threshold' -l 'threshold' -d 'Milliseconds without progress after which requests in flight are stalled (stall and recover events).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" json' -l 'json' -d 'Print one JSON object a line.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" events' -l 'events' -d 'Where events come from: bpf (eBPF uprobes in QEMU: every kick, pop, completion and interrupt), poll (the rings in guest memory), auto (bpf when possible, else poll, saying why).' -rfka 'auto bpf poll'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope watch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" device' -l 'device' -d 'The device: a name (virtio-net, virtio-blk), id, PCI address or QOM path. Default: every virtio-net device.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" w' -s 'w' -d 'Where to write: a file, or - for standard output.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" c' -s 'c' -d 'Stop after this many frames (requests).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" seconds' -l 'seconds' -d 'Stop after this many seconds.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" interval' -l 'interval' -d 'Milliseconds between polls: a fast device returns a buffer within a millisecond, and the driver may take it back at once.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" s' -s 's' -d 'Bytes of each frame to keep (the rest is counted, not written).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" events' -l 'events' -d 'Where events come from: bpf (eBPF uprobes in QEMU: every kick, pop, completion and interrupt), poll (the rings in guest memory), auto (bpf when possible, else poll, saying why).' -rfka 'auto bpf poll'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope capture" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" minimum-score' -l 'minimum-score' -d 'Report rings scoring at least this.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope scan" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" pid' -l 'pid' -d 'A live QEMU process to inspect.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" libvirt' -l 'libvirt' -d 'A running libvirt domain to inspect, by name or UUID (instead of --pid).' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" no-libvirt' -l 'no-libvirt' -d 'Never talk to QEMU through libvirt\'s monitor pass-through (a domain\'s own QMP sockets stay allowed).'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" image' -l 'image' -d 'A guest memory image: QEMU\'s dump-guest-memory ELF, or a raw RAM file with --base.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" base' -l 'base' -d 'Guest-physical address of a raw image\'s first byte.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" slots' -l 'slots' -d 'Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.' -rfka 'auto qmp kvm maps'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" qmp' -l 'qmp' -d 'A QMP socket to use instead of those on QEMU\'s command line.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" no-qmp' -l 'no-qmp' -d 'Never talk to QEMU: pure introspection from /proc and memory.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" qmp-timeout' -l 'qmp-timeout' -d 'Milliseconds to wait for a QMP answer.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" queue' -l 'queue' -d 'Diagnose one queue (DEVICE:INDEX; DEVICE: name, id, PCI address or QOM path). Default: every queue.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" seconds' -l 'seconds' -d 'Seconds to sample the rings (live targets); more than --threshold to see a stall in one run.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" threshold' -l 'threshold' -d 'Milliseconds without progress after which requests in flight are stalled and an empty receive queue starved.' -rfka ''
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" no-history' -l 'no-history' -d 'Neither continue nor save the watch of earlier diagnose runs.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" json' -l 'json' -d 'Print JSON.'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" events' -l 'events' -d 'Where events come from: bpf (eBPF uprobes in QEMU: every kick, pop, completion and interrupt), poll (the rings in guest memory), auto (bpf when possible, else poll, saying why).' -rfka 'auto bpf poll'
complete -c 'vqscope' -n '__vqscope_should_offer_completions_for_flags_or_options "vqscope diagnose" h help' -s 'h' -l 'help' -d 'Show help information.'

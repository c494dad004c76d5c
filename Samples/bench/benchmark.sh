#!/usr/bin/env bash
# Boots the basic bench guest and runs vqscope's benchmarks against it: translation (in process and
# through `vqscope translate` on standard input) against QEMU's own gpa2hva over QMP, guest RAM
# reads against a plain read of the same bytes, and reads and ring snapshots against drgn, the peer
# measured by drgn-peer.py (drgn 0.3.0 in a virtual environment, DIR/drgn-venv, made once and
# reused). Every read figure uses one plan of guest-physical addresses. Prints each figure beside
# its peer, with ratios; when drgn cannot be installed or run, its rows are skipped with the reason.
# Then the inspector's CPU share, the block capture from QEMU's own events (probe-capture.py), the
# frame capture from them beside polling and QEMU's filter-dump (probe-frames.py), and last the cost of a full RAM scan (`vqscope scan`) against one
# plain read of the same resident RAM on guests of 256 MiB, 1 GiB and 4.5 GiB (scan-cost.py), each
# booted alone after the others have stopped.
#   Samples/bench/benchmark.sh [--variant basic|big|shared] [--scan-only]
# --scan-only prints only the RAM scan rows. VQSCOPE_SCRATCH=DIR builds with
# `swift build --scratch-path DIR` instead of the package's .build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
variant=basic
scan_only=0
while (( $# )); do
    case $1 in
        --variant)   variant=${2:?--variant needs a value}; shift 2 ;;
        --scan-only) scan_only=1; shift ;;
        *) echo "usage: benchmark.sh [--variant basic|big|shared] [--scan-only]" >&2; exit 2 ;;
    esac
done
dir=${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}
"$root/Samples/bench/build-guest.sh" "$dir"
build=(swift build -c release)
[[ -n ${VQSCOPE_SCRATCH:-} ]] && build+=(--scratch-path "$VQSCOPE_SCRATCH")
build_log=$(mktemp /tmp/vqscope-benchmark-build.XXXXXX)
if ! (cd "$root" && "${build[@]}" --product vqscope && "${build[@]}" --product vqscope-benchmarks) >"$build_log" 2>&1; then
    grep -E 'error|warning: unable' "$build_log" | head -20 >&2
    echo "benchmark: swift build failed (${build[*]})" >&2
    rm -f "$build_log"
    exit 1
fi
rm -f "$build_log"
bin=$(cd "$root" && "${build[@]}" --show-bin-path)

work=$(mktemp -d /tmp/vqscope-benchmark.XXXXXX)
qemu_pid=
stop_guest() {
    if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
    qemu_pid=
}
cleanup() { stop_guest; rm -rf "$work"; }
trap cleanup EXIT

# Boots a bench guest (run-guest.sh ARGS...) into qemu_pid, console in $work/serial.log, and waits
# for its ready line.
boot_guest() {
    rm -f "$work/serial.log"
    "$root/Samples/bench/run-guest.sh" --dir "$dir" --serial "$work/serial.log" "$@" >"$work/qemu.log" 2>&1 &
    qemu_pid=$!
    for _ in $(seq 1 1200); do
        grep -q VQSCOPE-READY "$work/serial.log" 2>/dev/null && return 0
        kill -0 "$qemu_pid" 2>/dev/null || { cat "$work/qemu.log"; echo "benchmark: QEMU exited" >&2; exit 1; }
        sleep 0.2
    done
    echo "benchmark: the guest never became ready" >&2
    exit 1
}

# A full RAM scan against one plain read of the same resident bytes, as guest RAM grows: one guest
# at a time, measured right after it is ready (the last one with all its RAM resident).
scan_rows() {
    echo
    echo "RAM scan (vqscope scan --no-qmp) against one plain read of the resident RAM (/proc/PID/mem), best of 3:"
    local header=--header spec v m extra
    for spec in "basic 256" "basic 1024" "big 4608" "big 4608 -mem-prealloc"; do
        read -r v m extra <<<"$spec"
        boot_guest --variant "$v" --memory "$m" --name vqscope-benchmark-scan ${extra:+--extra "$extra"}
        python3 "$root/Samples/bench/scan-cost.py" --pid "$qemu_pid" --vqscope "$bin/vqscope" \
            --label "$v, -m $m${extra:+ $extra}" $header
        header=
        stop_guest
    done
}

if (( scan_only )); then
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(qemu-system-x86_64 --version | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
    scan_rows
    exit 0
fi

# drgn 0.3.0 in its own virtual environment: installed once, reused while it imports as that version.
drgn_version=0.3.0
venv=$dir/drgn-venv
drgn_skipped=
has_drgn() { "$venv/bin/python" -c "import drgn, sys; sys.exit(drgn.__version__ != '$drgn_version')" 2>/dev/null; }
setup_drgn() {
    has_drgn && return 0
    if ! "$venv/bin/python" -c pass 2>/dev/null; then
        command -v python3 >/dev/null || { drgn_skipped="python3 not found"; return 1; }
        python3 -m venv --clear "$venv" >"$work/venv.log" 2>&1 || {
            drgn_skipped="python3 -m venv $venv failed: $(grep -v '^$' "$work/venv.log" | tail -1)"; rm -rf "$venv"; return 1; }
    fi
    echo "benchmark: installing drgn $drgn_version into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "drgn==$drgn_version" >"$work/pip.log" 2>&1 || {
        drgn_skipped="pip install drgn==$drgn_version failed: $({ grep -m1 -E '^ERROR' "$work/pip.log" || tail -1 "$work/pip.log"; } | sed 's/ (from versions:.*//')"; return 1; }
    has_drgn || { drgn_skipped="drgn $drgn_version does not import from $venv after installing it"; return 1; }
}
setup_drgn || echo "benchmark: drgn rows skipped: $drgn_skipped" >&2

boot_guest --variant "$variant" --name vqscope-benchmark \
    --qmp "$work/bench.sock" --qmp "$work/tool.sock" --qmp "$work/drgn.sock" --mem-path "$work/guest.ram"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(qemu-system-x86_64 --version | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
# One plan of guest-physical addresses (4 KiB and 8 MiB reads, the ring) for vqscope and drgn alike.
"$bin/vqscope-benchmarks" --pid "$qemu_pid" --qmp "$work/bench.sock" --write-plan "$work/plan.json"
drgn_args=()
if [[ -z $drgn_skipped ]]; then
    if "$venv/bin/python" "$root/Samples/bench/drgn-peer.py" --qmp "$work/drgn.sock" --plan "$work/plan.json" \
        >"$work/drgn.json" 2>"$work/drgn.err"; then
        drgn_args=(--drgn "$work/drgn.json")
    else
        drgn_skipped="drgn-peer.py failed: $(grep -v '^$' "$work/drgn.err" | tail -1)"
        echo "benchmark: drgn rows skipped: $drgn_skipped" >&2
    fi
fi
[[ -n $drgn_skipped ]] && drgn_args=(--drgn-skipped "$drgn_skipped")
"$bin/vqscope-benchmarks" --pid "$qemu_pid" --qmp "$work/bench.sock" --vqscope "$bin/vqscope" --tool-qmp "$work/tool.sock" \
    --plan "$work/plan.json" "${drgn_args[@]}"

# The inspector on this busy guest at its default 10 frames a second: its share of one core, and
# whether the event log kept up (no lapped ring). Then on the demo's simulated guest.
if command -v tmux >/dev/null; then
    python3 "$root/Samples/bench/inspector-cpu.py" --seconds 20 -- "$bin/vqscope" --pid "$qemu_pid" --qmp "$work/tool.sock"
    python3 "$root/Samples/bench/inspector-cpu.py" --seconds 20 -- "$bin/vqscope" demo
else
    echo "benchmark: inspector rows skipped: tmux is not installed" >&2
fi

# Side by side with an earlier build (VQSCOPE_BEFORE=/path/to/old/vqscope): bulk translate rates, and
# the inspector's share of one core at 80x24 and 160x48, each run alternating old and new.
if [[ -n ${VQSCOPE_BEFORE:-} ]]; then
    python3 "$root/Samples/bench/translate-rate.py" --before "$VQSCOPE_BEFORE" --after "$bin/vqscope" \
        -- --pid "$qemu_pid" --qmp "$work/tool.sock"
    if command -v tmux >/dev/null; then
        for size in "80 24" "160 48"; do
            read -r width height <<<"$size"
            for build in "$VQSCOPE_BEFORE" "$bin/vqscope"; do
                echo -n "$build: "
                python3 "$root/Samples/bench/inspector-cpu.py" --seconds 30 --width "$width" --height "$height" \
                    -- "$build" --pid "$qemu_pid" --qmp "$work/tool.sock"
            done
        done
    fi
fi

stop_guest

# Events from QEMU itself (eBPF): the block trace against query-blockstats, vqscope's CPU while
# capturing, and QEMU's I/O rate with the probes attached, beside the polling capture, on a guest
# that reads its disk without a pause. Needs root (eBPF uprobes).
if [ "$(id -u)" = 0 ]; then
    boot_guest --variant basic --busy-io --name vqscope-benchmark-probes \
        --qmp "$work/bench.sock" --qmp "$work/tool.sock" --mem-path "$work/guest.ram"
    python3 "$root/Samples/bench/probe-capture.py" --seconds 20 "$bin/vqscope" "$qemu_pid" "$work/bench.sock" || true
    stop_guest
    # Frames from QEMU's events beside polling and QEMU's own filter-dump of the netdev, at the
    # bench's busy load (a ping every 20 ms), at a heavier one (every 2 ms, 1400-byte payloads) and at
    # more than ten times the busy one (every 1 ms, 1000-byte payloads).
    for load in "busy:--busy" "heavy:--busy --ping-every 0.002 --ping-size 1400" \
                "tenx:--busy --ping-every 0.001 --ping-size 1000"; do
        rm -f "$work/dump.pcap"
        # shellcheck disable=SC2086  # the load's flags split on purpose
        boot_guest --variant basic ${load#*:} --name "vqscope-benchmark-frames-${load%%:*}" \
            --qmp "$work/bench.sock" --qmp "$work/tool.sock" --qmp "$work/drgn.sock" --mem-path "$work/guest.ram" \
            --extra "-object filter-dump,id=f0,netdev=n0,file=$work/dump.pcap"
        python3 "$root/Samples/bench/probe-frames.py" --seconds 20 --label "${load%%:*}" \
            "$bin/vqscope" "$qemu_pid" "$work/tool.sock" "$work/drgn.sock" "$work/dump.pcap" || true
        stop_guest
    done
else
    echo "benchmark: eBPF capture rows skipped: not root" >&2
fi
scan_rows
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

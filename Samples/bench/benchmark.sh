#!/usr/bin/env bash
# Boots the basic bench guest and runs vqscope's benchmarks against it: translation (in process and
# through `vqscope translate` on standard input) against QEMU's own gpa2hva over QMP, and guest RAM
# reads against a plain read of the same bytes. Prints each figure beside its peer, with ratios.
#   Samples/bench/benchmark.sh [--variant basic|big|shared]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
variant=basic
[[ ${1:-} == --variant ]] && variant=${2:?}
dir=${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}
"$root/Samples/bench/build-guest.sh" "$dir"
(cd "$root" && swift build -c release --product vqscope >/dev/null && swift build -c release --product vqscope-benchmarks >/dev/null)
bin=$(cd "$root" && swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/vqscope-benchmark.XXXXXX)
qemu_pid=
cleanup() { [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$root/Samples/bench/run-guest.sh" --variant "$variant" --dir "$dir" --name vqscope-benchmark \
    --qmp "$work/bench.sock" --qmp "$work/tool.sock" --serial "$work/serial.log" --mem-path "$work/guest.ram" \
    >"$work/qemu.log" 2>&1 &
qemu_pid=$!
for _ in $(seq 1 1200); do
    grep -q VQSCOPE-READY "$work/serial.log" 2>/dev/null && break
    kill -0 "$qemu_pid" 2>/dev/null || { cat "$work/qemu.log"; echo "benchmark: QEMU exited" >&2; exit 1; }
    sleep 0.2
done
grep -q VQSCOPE-READY "$work/serial.log" || { echo "benchmark: the guest never became ready" >&2; exit 1; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(qemu-system-x86_64 --version | head -1)"
"$bin/vqscope-benchmarks" --pid "$qemu_pid" --qmp "$work/bench.sock" --vqscope "$bin/vqscope" --tool-qmp "$work/tool.sock"

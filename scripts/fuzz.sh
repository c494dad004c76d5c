#!/usr/bin/env bash
# libFuzzer fuzzing of VQCore's decoders of guest- and QEMU-controlled bytes (Tests/Fuzz).
#
#   scripts/fuzz.sh [SECONDS [TARGET...]]
#
# Builds VQCore once (with -sanitize=fuzzer,address, -O, into .build-fuzz/, rebuilt only when its
# sources change) and one binary per target, then runs each target for SECONDS (default 15) over
# its corpus, Tests/Fuzz/corpus/<target>/. Exits non-zero if any target crashes or breaks an
# invariant; the input is saved as .build-fuzz/artifacts/<target>/crash-*.
#
# Environment: FUZZ_KEEP=1 adds new interesting inputs to the corpus directory (then minimize it:
# FUZZ_MERGE=1 scripts/fuzz.sh 0 TARGET rewrites the corpus to a minimal set covering the same
# edges); FUZZ_JOBS=N runs N fuzzing processes per target; FUZZ_ARGS passes more libFuzzer flags.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-15}
shift || true
all=(SplitRing PackedRing Chain Payload ELFImage JSON QEMUText KVMSlots VTdWalk)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

out=.build-fuzz
mkdir -p "$out/include/CVQSys" "$out/modules" "$out/bin" "$out/artifacts"
swiftc=${SWIFTC:-swiftc}
clang=${CLANG:-$(dirname "$(command -v "$swiftc")")/clang}
[ -x "$clang" ] || clang=clang
sanitize=fuzzer,address
swiftflags=(-O -sanitize=$sanitize -use-ld=lld -I "$out/include" -I "$out/modules")

# CVQSys: its header through a module map, its shim compiled with clang.
cat > "$out/include/CVQSys/module.modulemap.new" <<EOF
module CVQSys {
    header "$PWD/Sources/CVQSys/include/cvqsys.h"
    export *
}
EOF
cmp -s "$out/include/CVQSys/module.modulemap.new" "$out/include/CVQSys/module.modulemap" \
    || mv "$out/include/CVQSys/module.modulemap.new" "$out/include/CVQSys/module.modulemap"
rm -f "$out/include/CVQSys/module.modulemap.new"

newer() {  # newer OUTPUT INPUT...: whether OUTPUT is missing or older than an input
    local output=$1; shift
    [ -e "$output" ] || return 0
    [ -n "$(find "$@" -newer "$output" -print -quit)" ]
}

if newer "$out/shim.o" Sources/CVQSys; then
    nice -n 5 "$clang" -c -O1 -g -fsanitize=address,fuzzer-no-link -I Sources/CVQSys/include Sources/CVQSys/shim.c -o "$out/shim.o"
fi
if newer "$out/libVQCore.a" Sources/VQCore Sources/CVQSys "$out/shim.o" scripts/fuzz.sh; then
    echo "fuzz.sh: building VQCore (-O, $sanitize)"
    nice -n 5 "$swiftc" "${swiftflags[@]}" -module-name VQCore -parse-as-library -enable-testing -wmo -num-threads 2 \
        -emit-module -emit-module-path "$out/modules/VQCore.swiftmodule" \
        -emit-library -static -o "$out/libVQCore.a" $(find Sources/VQCore -name "*.swift" | sort)
fi
for t in "${targets[@]}"; do
    [ -f "Tests/Fuzz/$t.swift" ] || { echo "fuzz.sh: no target Tests/Fuzz/$t.swift" >&2; exit 2; }
    if newer "$out/bin/$t" "Tests/Fuzz/$t.swift" Tests/Fuzz/Support "$out/libVQCore.a"; then
        echo "fuzz.sh: building $t"
        nice -n 5 "$swiftc" "${swiftflags[@]}" -module-name "Fuzz$t" -parse-as-library \
            "Tests/Fuzz/$t.swift" Tests/Fuzz/Support/*.swift "$out/libVQCore.a" "$out/shim.o" -o "$out/bin/$t"
    fi
done

# Swift's own crash backtracer fights ASan over the crashing process; libFuzzer and ASan report.
export SWIFT_BACKTRACE=enable=no
failed=()
for t in "${targets[@]}"; do
    corpus=Tests/Fuzz/corpus/$t
    mkdir -p "$corpus" "$out/artifacts/$t"
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        echo "fuzz.sh: minimizing $corpus"
        rm -rf "$out/merge-$t" && mv "$corpus" "$out/merge-$t" && mkdir -p "$corpus"
        "$out/bin/$t" -merge=1 "$corpus" "$out/merge-$t" 2>&1 | tail -1
        rm -rf "$out/merge-$t"
        continue
    fi
    # New inputs go to a scratch directory unless FUZZ_KEEP=1: the kept corpus changes only on purpose.
    dirs=("$corpus")
    if [ "${FUZZ_KEEP:-0}" != 1 ]; then
        rm -rf "$out/scratch-$t" && mkdir -p "$out/scratch-$t"
        dirs=("$out/scratch-$t" "$corpus")
    fi
    echo "fuzz.sh: $t for ${seconds}s over $corpus ($(ls "$corpus" | wc -l) inputs)"
    log=$out/artifacts/$t/log
    jobs=${FUZZ_JOBS:-1}
    extra=()
    [ "$jobs" -gt 1 ] && extra=(-fork="$jobs" -ignore_crashes=0)
    # shellcheck disable=SC2086
    if nice -n 5 "$out/bin/$t" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t/" "${extra[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" > "$log" 2>&1; then
        grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|#[0-9]+.*DONE)" "$log" | tr '\n' ' ' | sed "s/^/  $t: /"
        echo
    else
        echo "fuzz.sh: $t FAILED (log: $log)" >&2
        grep -E -A30 "ERROR|Fatal error|invariant broken|deadly signal" "$log" | head -60 >&2 || tail -40 "$log" >&2
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashes in ${failed[*]}; inputs in $out/artifacts/<target>/" >&2
    exit 1
fi

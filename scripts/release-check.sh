#!/usr/bin/env bash
# Checks the release binary the README documents ("A release binary for hosts without Swift"):
# builds it with scripts/build-release.sh (`swift build -c release --static-swift-stdlib`, with
# libstdc++ and libgcc linked in too), checks with ldd that it needs nothing but glibc and
# ncursesw/tinfo, then runs a copy of it with the Swift toolchain out of reach: in a private mount
# namespace with an empty tmpfs over the toolchain's directory and an empty environment (env -i),
# `vqscope --help` must print its usage
# and `vqscope demo`, in a detached 120x40 tmux session, must show its devices and quit on `q`
# with status 0. Prints how long the build took; on any problem, one line saying which and exit 1.
#
# Environment: VQSCOPE_RELEASE_SCRATCH_PATH (default .build), the build's scratch path;
# VQSCOPE_TOOLCHAIN (default: the directory above the `swift` on PATH's usr/bin), what to hide.
set -euo pipefail

fail() { echo "release-check: $*" >&2; exit 1; }

# The inside of the namespace (the script runs itself again through unshare): hide the toolchain,
# then run the copied binary with nothing of the environment.
if [ "${1:-}" = "--inside-namespace" ]; then
    bin=$2 toolchain=$3 work=$4
    mount -t tmpfs -o ro,size=4k,mode=0755 vqscope-no-toolchain "$toolchain" \
        || fail "cannot mount a tmpfs over $toolchain to hide the toolchain"
    [ ! -e "$toolchain/usr/lib/swift/linux/libswiftCore.so" ] || fail "the Swift runtime in $toolchain is still visible after mounting a tmpfs over it"
    clean=(env -i PATH=/usr/bin:/bin TERM=xterm-256color)
    if "${clean[@]}" sh -c 'swift --version' >/dev/null 2>&1; then
        fail "swift still runs with $toolchain hidden: another toolchain is on /usr/bin:/bin"
    fi

    help_status=0
    "${clean[@]}" "$bin" --help >"$work/help.txt" 2>"$work/help.err" || help_status=$?
    [ "$help_status" = 0 ] || fail "vqscope --help exited $help_status without the toolchain: $(head -n 1 "$work/help.err")"
    grep -q '^USAGE: vqscope' "$work/help.txt" || fail "vqscope --help printed no usage text without the toolchain (see $work/help.txt)"

    # The server's socket in the work directory: nothing is left behind in tmux's own directory.
    tmux=("${clean[@]}" tmux -S "$work/tmux.sock" -f /dev/null)
    trap '"${tmux[@]}" kill-server >/dev/null 2>&1 || true' EXIT
    # A shell records vqscope's exit status: the tmux server need not reap its child for it.
    "${tmux[@]}" new-session -d -x 120 -y 40 -s check -e TERM=xterm-256color \
        "sh -c '\"$bin\" demo; echo \$? > \"$work/status\"'" || fail "tmux could not start a session for the demo"
    screen="$work/screen.txt"
    shown=no
    for _ in $(seq 1 150); do  # up to 30 s
        "${tmux[@]}" capture-pane -p -t check >"$screen" 2>/dev/null || true
        if grep -q 'virtio-net' "$screen" && grep -q 'virtio-blk' "$screen"; then shown=yes; break; fi
        [ -e "$work/status" ] && break
        sleep 0.2
    done
    if [ "$shown" != yes ]; then
        if [ -e "$work/status" ]; then
            fail "vqscope demo exited $(cat "$work/status") before showing its devices without the toolchain (screen: $screen)"
        fi
        fail "vqscope demo did not show virtio-net and virtio-blk within 30 s without the toolchain (screen: $screen)"
    fi
    "${tmux[@]}" send-keys -t check q
    for _ in $(seq 1 100); do  # up to 10 s
        [ -s "$work/status" ] && break
        sleep 0.1
    done
    [ -s "$work/status" ] || fail "vqscope demo did not exit within 10 s of q without the toolchain"
    status=$(cat "$work/status")
    [ "$status" = 0 ] || fail "vqscope demo exited $status after q without the toolchain (screen: $screen)"
    exit 0
fi

cd "$(dirname "$0")/.."
scratch=${VQSCOPE_RELEASE_SCRATCH_PATH:-.build}
swift_path=$(command -v swift) || fail "no swift on PATH to build with"
toolchain=${VQSCOPE_TOOLCHAIN:-$(cd "$(dirname "$(readlink -f "$swift_path")")/../.." && pwd)}
[ -e "$toolchain/usr/lib/swift/linux/libswiftCore.so" ] \
    || fail "$toolchain holds no usr/lib/swift/linux/libswiftCore.so: not the Swift toolchain to hide (set VQSCOPE_TOOLCHAIN)"
for tool in ldd tmux unshare; do command -v "$tool" >/dev/null || fail "$tool is needed and missing"; done

# The build (scripts/build-release.sh, as the README says), timed.
start=$(date +%s)
built=$(scripts/build-release.sh --scratch-path "$scratch" | tail -n 1) || fail "the release build failed: scripts/build-release.sh --scratch-path $scratch"
build_seconds=$(( $(date +%s) - start ))
[ -x "$built" ] || fail "the release build left no executable at $built"

# A copy alone in a directory, as on a host without Swift: nothing next to it for $ORIGIN to find.
work=$(mktemp -d /tmp/vqscope-release-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$built" "$work/vqscope"
bin="$work/vqscope"

# What it needs: glibc's libraries, ncursesw and tinfo; nothing else.
allowed='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1|libresolv\.so\.2|libanl\.so\.1|libncursesw\.so\.6|libtinfo\.so\.6)$'
needs=$(ldd "$bin") || fail "ldd cannot read $bin"
while read -r line; do
    [ -n "$line" ] || continue
    name=${line%% *}
    name=${name##*/}
    resolved=$(sed -n 's/.*=> \([^ ]*\).*/\1/p' <<<"$line")
    case "$line" in *"not found"*) fail "the release binary needs $name, which is not found" ;; esac
    case "$name" in libswift*|libFoundation*|libdispatch*|libBlocksRuntime*|lib_Foundation*|libXCTest*)
        fail "the release binary needs $name: the Swift runtime is not linked statically" ;;
    esac
    case "$resolved" in "$toolchain"/*) fail "the release binary loads $resolved from the toolchain" ;; esac
    [[ "$name" =~ $allowed ]] || fail "the release binary needs $name, beyond glibc and ncursesw/tinfo"
done <<<"$needs"

# Run it with the toolchain hidden, in a mount namespace of its own (root: plain; otherwise in a
# user namespace where we are root).
ns=(unshare --mount --propagation private)
[ "$(id -u)" = 0 ] || ns=(unshare --user --map-root-user --mount --propagation private)
"${ns[@]}" true 2>/dev/null || fail "cannot create a mount namespace (${ns[*]}) to hide the toolchain"
if ! "${ns[@]}" bash "$(pwd)/scripts/release-check.sh" --inside-namespace "$bin" "$toolchain" "$work"; then
    rm -f "$bin"
    trap - EXIT  # the screen and outputs the failure line names stay
    exit 1
fi
size=$(( $(stat -c %s "$built") >> 20 ))
echo "release-check: ok: $built ($size MiB) needs only $(awk '{print $1}' <<<"$needs" | sed 's|.*/||' | grep -v '^linux-vdso' | paste -sd, -)," \
     "and --help and the demo run with $toolchain hidden; release build ${build_seconds} s"

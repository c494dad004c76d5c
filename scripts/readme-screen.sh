#!/usr/bin/env bash
# Prints a real screen of the inspector for README.md ("The inspector"): builds vqscope, runs
# `vqscope demo` in a detached tmux session of 110x34, lets it run a few seconds so that rates and
# activity move, captures the screen as text, quits with `q` and prints the capture.
#
#     scripts/readme-screen.sh [SECONDS]       # default 5
#
# Environment: VQSCOPE_SCRATCH_PATH, a scratch path for the build (default: SwiftPM's .build).
# On any problem: one line saying which, exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "readme-screen: $*" >&2; exit 1; }

seconds=${1:-5}
[[ "$seconds" =~ ^[0-9]+$ ]] || fail "SECONDS must be a whole number of seconds, not '$seconds'"
command -v tmux >/dev/null || fail "tmux is needed and missing"
command -v swift >/dev/null || fail "no swift on PATH to build vqscope with"

flags=(--product vqscope)
[ -z "${VQSCOPE_SCRATCH_PATH:-}" ] || flags+=(--scratch-path "$VQSCOPE_SCRATCH_PATH")
swift build "${flags[@]}" >&2 || fail "the build failed: swift build ${flags[*]}"
bin="$(swift build "${flags[@]}" --show-bin-path)/vqscope"
[ -x "$bin" ] || fail "the build left no executable at $bin"

work=$(mktemp -d /tmp/vqscope-readme-screen.XXXXXX)
tmux=(tmux -S "$work/tmux.sock" -f /dev/null)  # its socket goes with the work directory
trap '"${tmux[@]}" kill-server >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# A shell records vqscope's exit status: the tmux server need not reap its child for it.
"${tmux[@]}" new-session -d -x 110 -y 34 -s screen -e TERM=xterm-256color -e LANG=C.UTF-8 \
    "sh -c '\"$bin\" demo; echo \$? > \"$work/status\"'" || fail "tmux could not start a session for the demo"
shown=no
for _ in $(seq 1 150); do  # up to 30 s
    screen=$("${tmux[@]}" capture-pane -p -t screen 2>/dev/null || true)
    if grep -q 'virtio-net' <<<"$screen" && grep -q 'virtio-blk' <<<"$screen"; then shown=yes; break; fi
    [ -e "$work/status" ] && fail "vqscope demo exited $(cat "$work/status") before showing its devices"
    sleep 0.2
done
[ "$shown" = yes ] || fail "vqscope demo did not show its devices within 30 s"
sleep "$seconds"
screen=$("${tmux[@]}" capture-pane -p -t screen) || fail "tmux could not capture the screen"

"${tmux[@]}" send-keys -t screen q
for _ in $(seq 1 100); do  # up to 10 s
    [ -s "$work/status" ] && break
    sleep 0.1
done
[ -s "$work/status" ] || fail "vqscope demo did not exit within 10 s of q"
[ "$(cat "$work/status")" = 0 ] || fail "vqscope demo exited $(cat "$work/status") after q"

# The screen ($(...) drops the blank lines tmux pads it with at the bottom).
printf '%s\n' "$screen"

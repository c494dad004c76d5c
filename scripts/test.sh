#!/usr/bin/env bash
# The test command of vqscope (the README names it): installs what the tests need when it is
# missing, builds the bench guest, then runs every test, unit and integration (the integration
# tests boot real QEMU guests from Samples/bench), then a short libFuzzer pass over every decoder
# (scripts/fuzz.sh; VQSCOPE_FUZZ_SECONDS per target, default 10, 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, each checked by a file it installs.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-storage-daemon >/dev/null || need+=(qemu-system-common)
[ -x /bin/busybox ] || command -v busybox >/dev/null || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v python3 >/dev/null || need+=(python3)
pkg-config --exists ncursesw 2>/dev/null || need+=(libncursesw5-dev)
pkg-config --exists libbpf 2>/dev/null || need+=(libbpf-dev)
command -v tmux >/dev/null || need+=(tmux)
command -v tshark >/dev/null || need+=(tshark)
command -v libvirtd >/dev/null || need+=(libvirt-daemon-system)
command -v virsh >/dev/null || need+=(libvirt-clients)
if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: these packages are missing and installing them needs root: ${need[*]}" >&2
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# libvirt's daemons for the libvirt domain tests (no systemd here to start them).
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 100); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.1; done

# The bench guest (kernel, initramfs, disks): built once, cached in $VQSCOPE_BENCH_DIR.
export VQSCOPE_BENCH_DIR=${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}
Samples/bench/build-guest.sh "$VQSCOPE_BENCH_DIR"

# The committed eBPF probes' bytes must be what their source compiles to.
scripts/bpf-build.sh --check
swift build --build-tests
# Every QMP command sent during the suite is logged and held against docs/qmp-allowlist.md; the
# vhost-user guest's disk (id vublk0) must never be asked for its queue state.
export VQSCOPE_QMP_LOG=${VQSCOPE_QMP_LOG:-$(mktemp /tmp/vqscope-qmp-log.XXXXXX)}
swift test --skip-build --disable-swift-testing "$@"
python3 scripts/check-qmp-log.py "$VQSCOPE_QMP_LOG" --doc docs/qmp-allowlist.md --vhost-device vublk0 $([ $# -eq 0 ] && echo --require-some)
unset VQSCOPE_QMP_LOG
[ "${VQSCOPE_RELEASE_CHECK:-1}" = 0 ] || scripts/release-check.sh  # the static release binary without Swift (0 skips it)

# A short fuzz pass (the toolchain's clang and libFuzzer; nothing more to install): fails on a crash.
fuzz_seconds=${VQSCOPE_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" != 0 ]; then
    scripts/fuzz.sh "$fuzz_seconds"
fi

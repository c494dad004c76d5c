#!/usr/bin/env python3
"""Measures `vqscope capture --device virtio-blk` with events from QEMU itself (--events bpf) beside
the polling capture (--events poll), on a bench guest reading its disk without a pause
(run-guest.sh --busy-io), side by side in one run:

- the block trace against QEMU's own count: the reads `query-blockstats` counts between two
  instants inside the capture, and the traced reads that completed between the same instants;
- vqscope's CPU while capturing (user + system time of its process over its run, as a share of one
  core);
- QEMU's I/O rate with the probes attached against its rate without (reads a second by
  query-blockstats, over windows of the same length, alternated: without, with, without).

    probe-capture.py [--seconds S] VQSCOPE PID QMP-SOCKET

Floors (issue: lossless events): trace >= 99.9% of the reads, CPU <= 3% of a core, rate with
probes >= 95% of without. Prints one line a measure with its ratio; exit status 1 when a floor is
not met. QMP-SOCKET must be one no other client holds (the guest's own, not vqscope's).
"""
import argparse, importlib.util, json, os, signal, subprocess, sys, tempfile, time

def load_qmp():
    """The QMP client of qmp-check.py beside this script."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qmp-check.py")
    spec = importlib.util.spec_from_file_location("qmp_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.QMP

def reads(qmp):
    """Reads and writes QEMU counted on the guest's disk (every block device summed)."""
    total = 0
    for dev in qmp.cmd("query-blockstats"):
        stats = dev.get("stats", {})
        total += stats.get("rd_operations", 0) + stats.get("wr_operations", 0)
    return total

def rate(qmp, seconds):
    start, t0 = reads(qmp), time.monotonic()
    time.sleep(seconds)
    return (reads(qmp) - start) / (time.monotonic() - t0)

def capture(vqscope, pid, qmp, mode, seconds):
    """Runs a capture for about `seconds` (stopped with SIGINT); counts reads QEMU and the trace
    saw between two instants inside it. Returns (traced, counted, cpu share, rate, stderr)."""
    out = tempfile.NamedTemporaryFile(prefix="vqscope-trace-", delete=False).name
    err = tempfile.NamedTemporaryFile(prefix="vqscope-trace-err-", delete=False).name
    with open(err, "w") as e:
        proc = subprocess.Popen([vqscope, "capture", "--pid", str(pid), "--device", "virtio-blk", "-w", out,
                                 "--events", mode, "--seconds", str(seconds + 30)], stderr=e)
    try:
        for _ in range(600):  # attached and capturing: its line on stderr
            if "capturing requests" in open(err).read():
                break
            if proc.poll() is not None:
                raise RuntimeError(f"capture --events {mode} exited: {open(err).read().strip()}")
            time.sleep(0.05)
        time.sleep(1)
        start_count, start_wall, start_mono = reads(qmp), time.time(), time.monotonic()
        time.sleep(seconds)
        end_count, end_wall, end_mono = reads(qmp), time.time(), time.monotonic()
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [json.loads(l) for l in open(out) if l.strip()]
    traced = sum(1 for r in lines if r.get("completed") is not None and start_wall <= r["completed"] <= end_wall)
    counted = end_count - start_count
    stderr = open(err).read().strip()
    os.unlink(out); os.unlink(err)
    wall = end_mono - start_mono + 2 + 1  # the capture ran about this long after attaching (lower bound)
    return traced, counted, (usage.ru_utime + usage.ru_stime) / wall, counted / (end_mono - start_mono), stderr

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("vqscope")
    parser.add_argument("pid", type=int)
    parser.add_argument("qmp")
    args = parser.parse_args()
    qmp = load_qmp()(args.qmp)
    ok = True

    without1 = rate(qmp, args.seconds)
    traced, counted, cpu, with_rate, stderr = capture(args.vqscope, args.pid, qmp, "bpf", args.seconds)
    without2 = rate(qmp, args.seconds)
    p_traced, p_counted, p_cpu, _, p_stderr = capture(args.vqscope, args.pid, qmp, "poll", args.seconds)
    without = (without1 + without2) / 2

    share = traced / counted if counted else 0
    p_share = p_traced / p_counted if p_counted else 0
    print(f"block trace, events from QEMU (bpf): {traced} of {counted} reads query-blockstats counted in {args.seconds:.0f} s "
          f"({100 * share:.2f}%; floor 99.9%); polling: {p_traced} of {p_counted} ({100 * p_share:.2f}%)")
    print(f"vqscope capture CPU: bpf {100 * cpu:.2f}% of one core (floor <= 3%), polling {100 * p_cpu:.2f}% "
          f"(polling / bpf {p_cpu / cpu if cpu else float('inf'):.1f}x)")
    print(f"QEMU reads a second: {with_rate:.1f} with the probes attached, {without:.1f} without "
          f"({without1:.1f}, {without2:.1f}): {100 * with_rate / without:.1f}% (floor 95%)")
    for line in stderr.splitlines():
        if "missed" in line or "traced" in line:
            print(f"  bpf capture: {line}")
    ok = share >= 0.999 and cpu <= 0.03 and with_rate >= 0.95 * without
    sys.exit(0 if ok else 1)

if __name__ == "__main__":
    main()

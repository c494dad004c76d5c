#!/usr/bin/env python3
"""Measures `vqscope capture` of virtio-net frames from QEMU's own events (--events bpf) beside the
polling capture (--events poll) and QEMU's own record of the same netdev (`-object filter-dump`),
side by side in one run, on a bench guest that pings (run-guest.sh --busy, or --ping-every S
--ping-size N for more):

- frames: of the frames QEMU's filter-dump wrote between two instants inside both captures, how
  many each vqscope file holds, byte for byte (probes / filter-dump, polling / filter-dump);
- vqscope's CPU while capturing (user + system time of each process over its run, as a share of
  one core), probes against polling;
- QEMU's frame rate (frames filter-dump writes a second) with the probes attached against without
  (windows of the same length, alternated: without, with the probes' capture alone, without;
  the side-by-side window, with polling too, is shown beside them).

    probe-frames.py [--seconds S] [--label TEXT] VQSCOPE PID QMP-SOCKET POLL-QMP-SOCKET DUMP-FILE

The two captures run at once, each with a QMP socket of its own (a QMP socket serves one client
at a time). DUMP-FILE is the guest's filter-dump file. Prints one line a measure with its ratio;
exit status 1 when the probes miss a frame filter-dump holds.
"""
import argparse, os, signal, struct, subprocess, sys, tempfile, time

def pcap_frames(path, start=0, end=None):
    """Frames of a classic pcap file whose records lie within [start, end) bytes."""
    data = open(path, "rb").read()
    end = len(data) if end is None else end
    frames, at = [], 24
    while at + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, at + 8)[0]
        if at + 16 + caplen > len(data):
            break
        if at >= start and at + 16 + caplen <= end:
            frames.append(data[at + 16:at + 16 + caplen])
        at += 16 + caplen
    return frames

def pcapng_frames(path):
    """(frames, truncated) of a pcapng file: enhanced packet blocks' data; truncated counts those
    whose captured length is below their original length."""
    data = open(path, "rb").read()
    frames, truncated, at = [], 0, 0
    while at + 12 <= len(data):
        kind, length = struct.unpack_from("<II", data, at)
        if length < 12 or at + length > len(data):
            break
        if kind == 6:
            caplen, origlen = struct.unpack_from("<II", data, at + 20)
            frames.append(data[at + 28:at + 28 + caplen])
            truncated += caplen < origlen
        at += length
    return frames, truncated

def matched(ours, theirs):
    """How many of `theirs` are in `ours` (as a multiset of byte strings)."""
    left = {}
    for f in ours:
        left[f] = left.get(f, 0) + 1
    n = 0
    for f in theirs:
        if left.get(f, 0) > 0:
            left[f] -= 1
            n += 1
    return n

def dump_rate(dump, seconds):
    start, t0 = os.path.getsize(dump), time.monotonic()
    time.sleep(seconds)
    end = os.path.getsize(dump)
    return len(pcap_frames(dump, start, end)) / (time.monotonic() - t0)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--label", default="busy")
    parser.add_argument("vqscope")
    parser.add_argument("pid", type=int)
    parser.add_argument("qmp")
    parser.add_argument("poll_qmp")
    parser.add_argument("dump")
    args = parser.parse_args()

    without1 = dump_rate(args.dump, args.seconds)
    # QEMU's rate with the probes attached and nothing else: a capture of its own.
    alone = subprocess.Popen([args.vqscope, "capture", "--pid", str(args.pid), "--qmp", args.qmp, "-w", "/dev/null",
                              "--events", "bpf", "--seconds", str(args.seconds + 60)], stderr=subprocess.PIPE, text=True)
    line = ""
    while "capturing frames" not in line:
        line = alone.stderr.readline()
        if not line and alone.poll() is not None:
            sys.exit("probe-frames: capture --events bpf exited before capturing")
    time.sleep(1)
    with_rate = dump_rate(args.dump, args.seconds)
    alone.send_signal(signal.SIGINT)
    alone.communicate()
    without2 = dump_rate(args.dump, args.seconds)
    runs = {}
    for mode in ("bpf", "poll"):
        out = tempfile.NamedTemporaryFile(prefix=f"vqscope-frames-{mode}-", suffix=".pcapng", delete=False).name
        err = tempfile.NamedTemporaryFile(prefix=f"vqscope-frames-{mode}-err-", delete=False).name
        with open(err, "w") as e:
            proc = subprocess.Popen([args.vqscope, "capture", "--pid", str(args.pid), "--qmp", args.qmp if mode == "bpf" else args.poll_qmp, "-w", out,
                                     "--events", mode, "--seconds", str(args.seconds + 60)], stderr=e)
        for _ in range(1200):  # attached and capturing: its line on stderr (QMP taken in turn)
            if "capturing frames" in open(err).read():
                break
            if proc.poll() is not None:
                sys.exit(f"probe-frames: capture --events {mode} exited: {open(err).read().strip()}")
            time.sleep(0.05)
        runs[mode] = (proc, out, err, time.monotonic())
    time.sleep(1)
    start, t0 = os.path.getsize(args.dump), time.monotonic()
    time.sleep(args.seconds)
    end, t1 = os.path.getsize(args.dump), time.monotonic()
    time.sleep(1)  # an rx frame dumped just before the end is filled just after
    results = {}
    for mode, (proc, out, err, began) in runs.items():
        proc.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - began
        frames, truncated = pcapng_frames(out)
        results[mode] = (frames, truncated, (usage.ru_utime + usage.ru_stime) / wall, open(err).read().strip())
        os.unlink(out); os.unlink(err)
    window = pcap_frames(args.dump, start, end)
    both_rate = len(window) / (t1 - t0)
    without = (without1 + without2) / 2

    n = len(window)
    b_frames, b_trunc, b_cpu, b_err = results["bpf"]
    p_frames, _, p_cpu, p_err = results["poll"]
    b_found, p_found = matched(b_frames, window), matched(p_frames, window)
    print(f"[{args.label}] frames filter-dump wrote in {args.seconds:.0f} s: {n} ({both_rate:.1f}/s); "
          f"captured from QEMU's events: {b_found} ({b_found / n if n else 0:.4f} of filter-dump's, {b_trunc} cut short); "
          f"polled: {p_found} ({p_found / n if n else 0:.4f})")
    print(f"[{args.label}] vqscope capture CPU: probes {100 * b_cpu:.2f}% of one core, polling {100 * p_cpu:.2f}% "
          f"(probes / polling {b_cpu / p_cpu if p_cpu else float('inf'):.2f})")
    print(f"[{args.label}] QEMU frames a second: {with_rate:.1f} with the probes attached, {without:.1f} without "
          f"({without1:.1f}, {without2:.1f}): with / without {with_rate / without if without else 0:.3f}; "
          f"{both_rate:.1f} with both captures ({both_rate / without if without else 0:.3f})")
    for mode, text in (("bpf", b_err), ("poll", p_err)):
        for line in text.splitlines():
            if "missed" in line or "captured" in line or "events:" in line:
                print(f"  [{args.label}] {mode}: {line}")
    sys.exit(0 if n and b_found == n else 1)

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""scan-cost.py — what a full RAM scan (`vqscope scan`) costs against one plain read of the same
bytes, on a running QEMU guest.

    scan-cost.py --pid PID --vqscope BIN [--label TEXT] [--rounds N] [--header]

Finds guest RAM through `vqscope slots --no-qmp --json` (the process's own mappings), which of its
pages are resident through /proc/PID/pagemap (as the scan does: pages the guest never touched are
skipped), then alternates, best of N rounds after one untimed warm-up of each:
  - one plain read of every resident page: `preadv` of /proc/PID/mem, one call a run of resident
    pages up to 8 MiB, into one reused buffer, one thread (the page map is read before timing);
  - `vqscope scan --pid PID --no-qmp --json`: its own `seconds` (reading the page map, reading and
    scanning RAM on two threads, confirming and guessing rings), and the whole command's wall time.
Prints one Markdown table row: the label, guest RAM, resident bytes, both times, and the ratio scan
time / read time (the target is 3x or less). Needs root (or the QEMU process's owner) to read it.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from array import array

PAGE = 4096
CHUNK = 8 << 20


def slots(vqscope, pid):
    out = subprocess.run([vqscope, "slots", "--pid", str(pid), "--no-qmp", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return [(s["gpa"], s["size"], s["hva"]) for s in json.loads(out)["slots"]]


def resident_runs(pid, slot_list):
    """Runs (hva, bytes) of resident pages, at most CHUNK bytes each."""
    runs = []
    with open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pagemap:
        for _gpa, size, hva in slot_list:
            first, count = hva // PAGE, size // PAGE
            entries = array("Q")
            entries.frombytes(os.pread(pagemap.fileno(), count * 8, first * 8))
            start = None
            for i, entry in enumerate(entries):
                present = entry >> 63
                if present and start is None:
                    start = i
                if start is not None and (not present or i - start == CHUNK // PAGE):
                    runs.append(((first + start) * PAGE, (i - start) * PAGE))
                    start = i if present else None
            if start is not None:
                runs.append(((first + start) * PAGE, (len(entries) - start) * PAGE))
    return runs


def plain_read(pid, runs):
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        begin = time.perf_counter()
        total = 0
        for hva, length in runs:
            n = os.preadv(fd, [view[:length]], hva)
            if n != length:
                raise SystemExit(f"scan-cost: short read of {length} bytes at {hva:#x}: {n}")
            total += n
        return time.perf_counter() - begin, total
    finally:
        os.close(fd)


def scan(vqscope, pid):
    begin = time.perf_counter()
    out = subprocess.run([vqscope, "scan", "--pid", str(pid), "--no-qmp", "--json"],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - begin
    result = json.loads(out)
    return result["seconds"], wall, result["bytes_scanned"], len(result["rings"])


def human(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}".replace(".0 ", " ")
    return f"{n} B"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--vqscope", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--header", action="store_true", help="print the table's header first")
    args = parser.parse_args()

    slot_list = slots(args.vqscope, args.pid)
    ram = sum(size for _gpa, size, _hva in slot_list)
    runs = resident_runs(args.pid, slot_list)
    resident = sum(length for _hva, length in runs)
    plain_read(args.pid, runs)
    scan(args.vqscope, args.pid)
    reads, scans = [], []
    for _ in range(args.rounds):
        reads.append(plain_read(args.pid, runs)[0])
        scans.append(scan(args.vqscope, args.pid))
    read = min(reads)
    best = min(scans)
    seconds, wall, scanned, rings = best
    if args.header:
        print("| guest | RAM | resident (scanned) | plain read of the resident bytes | `vqscope scan` (whole command) "
              "| rings found | scan ÷ read (target ≤ 3×) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.label} | {human(ram)} | {human(resident)} ({human(scanned)}) "
          f"| {read * 1000:.0f} ms ({resident / read / 1e9:.2f} GB/s) "
          f"| {seconds * 1000:.0f} ms ({wall * 1000:.0f} ms) | {rings} "
          f"| {seconds / read:.2f}× ({wall / read:.2f}×) |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

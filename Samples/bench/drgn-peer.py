#!/usr/bin/env python3
"""The drgn side of vqscope's benchmarks: the same guest-physical reads vqscope measures, done
through drgn (the peer being measured) on a live QEMU guest, timed the same way.

    drgn-peer.py --qmp SOCKET --plan PLAN.json > FIGURES.json

SOCKET: a QMP socket of the guest no other client holds (a QMP socket serves one client at a time).
PLAN.json: written by `vqscope-benchmarks --write-plan`, the addresses vqscope reads in the same run:
    {"reads4k": [GPA, ...], "bulk8m": [GPA, ...],
     "ring": {"size": 256, "desc": GPA, "avail": GPA, "used": GPA, ...} or null, ...}

Each figure is the best of 3 rounds of at least --round seconds (0.4: about 1.2 s in all), timed with
time.perf_counter, as vqscope's are:
    reads4k  every address of the list once per pass, one prog.read(gpa, 4096, True) each
    bulk8m   one prog.read(gpa, 8 MiB, True) per address of the list
    ring     raw reads of a split ring's three areas: the descriptor table (16 * size bytes), the
             available ring (4 + 2 * size + 2) and the used ring (4 + 8 * size + 2); no decoding
Prints one JSON object: seconds per read (per three reads for the ring) and bytes per second.
"""
import argparse
import json
import logging
import sys
import time


def best_of(rounds, seconds, body):
    """Runs `body` repeatedly for at least `seconds` (and at least once), `rounds` times; returns
    the fewest seconds per call of any round."""
    best = float("inf")
    for _ in range(rounds):
        calls = 0
        start = time.perf_counter()
        while True:
            body()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = min(best, elapsed / calls)
    return best


class Messages(logging.Handler):
    """Keeps drgn's log lines, to report how it reaches guest memory (process reads or QMP)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qmp", required=True, help="QMP socket of the guest (not held by another client)")
    parser.add_argument("--plan", required=True, help="plan JSON from vqscope-benchmarks --write-plan")
    parser.add_argument("--round", type=float, default=0.4, help="seconds per round, 3 rounds a figure (default 0.4)")
    args = parser.parse_args()

    try:
        import drgn
    except ImportError as error:
        sys.exit(f"drgn-peer: cannot import drgn: {error}")

    with open(args.plan) as f:
        plan = json.load(f)
    reads = [int(a) for a in plan["reads4k"]]
    bulk = [int(a) for a in plan["bulk8m"]]
    ring = plan.get("ring")
    if not reads or not bulk:
        sys.exit("drgn-peer: the plan has no addresses")

    messages = Messages()
    logger = logging.getLogger("drgn")
    logger.addHandler(messages)
    logger.setLevel(logging.DEBUG)

    prog = drgn.Program()
    start = time.perf_counter()
    try:
        prog.set_qemu_qmp(args.qmp)
    except Exception as error:  # noqa: BLE001 - any failure to attach ends this peer's figures
        sys.exit(f"drgn-peer: set_qemu_qmp({args.qmp!r}) failed: {error}")
    connect = time.perf_counter() - start
    access = [line for line in messages.lines if "memory reading" in line]

    read = prog.read
    rounds, seconds = 3, args.round
    figures = {
        "peer": "drgn",
        "version": getattr(drgn, "__version__", "unknown"),
        "method": "Program.set_qemu_qmp, then Program.read(address, size, physical=True)",
        "memory_access": access[-1] if access else "not reported",
        "connect_seconds": connect,
    }

    # Touch everything once, so no round pays for first faults the others do not.
    for a in reads:
        read(a, 4096, True)
    for a in bulk:
        read(a, 8 << 20, True)

    def reads_pass():
        for a in reads:
            read(a, 4096, True)

    per = best_of(rounds, seconds, reads_pass) / len(reads)
    figures["reads4k"] = {"count": len(reads), "bytes": 4096, "seconds_per_read": per, "bytes_per_second": 4096 / per}

    def bulk_pass():
        for a in bulk:
            read(a, 8 << 20, True)

    per = best_of(rounds, seconds, bulk_pass) / len(bulk)
    figures["bulk8m"] = {"count": len(bulk), "bytes": 8 << 20, "seconds_per_read": per,
                         "bytes_per_second": (8 << 20) / per}

    if ring:
        n = int(ring["size"])
        areas = [(int(ring["desc"]), 16 * n), (int(ring["avail"]), 4 + 2 * n + 2), (int(ring["used"]), 4 + 8 * n + 2)]
        (d, dn), (a, an), (u, un) = areas

        def ring_read():
            read(d, dn, True)
            read(a, an, True)
            read(u, un, True)

        ring_read()
        per = best_of(rounds, seconds, ring_read)
        figures["ring"] = {"size": n, "desc": d, "avail": a, "used": u, "area_bytes": [dn, an, un],
                           "seconds_per_read": per, "bytes_per_second": (dn + an + un) / per}
    else:
        figures["ring"] = None

    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

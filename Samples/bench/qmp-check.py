#!/usr/bin/env python3
"""qmp-check.py — check a running bench guest over QMP (standard library only).

  qmp-check.py SOCKET [SECONDS]   list every virtio device and queue twice, SECONDS apart
                                  (default 3), and report whether each queue is set up
                                  (vring-desc != 0) and whether its indexes moved.
                                  Exit 0 only if every device has all queues set up and
                                  at least one queue that moved.
  qmp-check.py SOCKET hmp CMD...  run an HMP command (e.g. "info mtree -f", "gpa2hva 0x1000").

A QMP socket serves one client at a time: use a socket nobody else is holding.
For packed rings QEMU reports the indexes as ring positions (0..num-1, no wrap counter),
so a moved index may look smaller than before.
"""
import json
import socket
import sys
import time


class QMP:
    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)  # a socket held by another client stays silent
        self.sock.connect(path)
        self.file = self.sock.makefile("rw")
        json.loads(self.file.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **arguments):
        self.file.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"{name}: {reply['error']['desc']}")
            # anything else is an asynchronous event: skip it

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line}).replace("\r", "")


def snapshot(qmp):
    devices = {}
    for dev in qmp.cmd("x-query-virtio"):
        status = qmp.cmd("x-query-virtio-status", path=dev["path"])
        queues = [qmp.cmd("x-query-virtio-queue-status", path=dev["path"], queue=i)
                  for i in range(status["num-vqs"])]
        devices[dev["path"]] = (dev["name"], queues)
    return devices


def check(qmp, seconds):
    before = snapshot(qmp)
    time.sleep(seconds)
    after = snapshot(qmp)
    ok = True
    for path, (name, queues) in after.items():
        old = {q["queue-index"]: q for q in before[path][1]}
        unset = [q["queue-index"] for q in queues if q["vring-desc"] == 0]
        moved = []
        for q in queues:
            o = old[q["queue-index"]]
            if (q["used-idx"], q["last-avail-idx"]) != (o["used-idx"], o["last-avail-idx"]):
                moved.append(q)
        good = not unset and bool(moved)
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {name} {path}: {len(queues)} queues, "
              f"{len(unset)} without vring-desc, {len(moved)} moved in {seconds:g} s")
        for q in moved:
            o = old[q["queue-index"]]
            print(f"       q{q['queue-index']}: desc={q['vring-desc']:#x} "
                  f"avail={q['vring-avail']:#x} used={q['vring-used']:#x} num={q['vring-num']} "
                  f"used-idx {o['used-idx']}->{q['used-idx']}")
    return ok


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    qmp = QMP(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "hmp":
        sys.stdout.write(qmp.hmp(" ".join(sys.argv[3:])))
        return
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    sys.exit(0 if check(qmp, seconds) else 1)


if __name__ == "__main__":
    main()

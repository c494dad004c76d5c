#!/usr/bin/env python3
"""Holds every QMP command logged through VQSCOPE_QMP_LOG against docs/qmp-allowlist.md.

Usage: check-qmp-log.py LOG [--doc docs/qmp-allowlist.md] [--vhost-device ID]... [--require-some]

Each line of LOG is one command a QMP client sent (program, pid, policy, socket, execute,
arguments). Read-only clients (vqscope's) may send only the commands the document's tables list,
HMP only the listed HMP commands; the vqscope executable may never open an unrestricted client;
and no read-only client may ask for the queue state of a device whose id is given with
--vhost-device (a device served by a vhost back-end) unless the client had just heard that device's
vhost is stopped (a paused VM stops its vhost back-ends; QEMU's own queue state is then current). `stop` and `cont` pass only as a user's
request (`"user_request": true`: the inspector's step and continue keys). Exits 1 naming each line that breaks a rule.
"""
import argparse
import collections
import json
import re
import sys


def table(text, heading):
    """The back-quoted names in the first column of the table after `heading`."""
    part = text.split(heading, 1)[1]
    names = []
    for line in part.splitlines()[1:]:
        if line.startswith("## "):
            break
        m = re.match(r"\| `([^`]+)`", line)
        if m:
            names.append(m.group(1))
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--doc", default="docs/qmp-allowlist.md")
    parser.add_argument("--vhost-device", action="append", default=[])
    parser.add_argument("--require-some", action="store_true", help="fail when nothing was logged")
    args = parser.parse_args()
    doc = open(args.doc, encoding="utf-8").read()
    qmp = set(table(doc, "## QMP commands"))
    hmp = table(doc, "## HMP commands")
    if not qmp or not hmp:
        print(f"check-qmp-log: no tables found in {args.doc}", file=sys.stderr)
        return 1

    bad = []
    counts = collections.Counter()
    read_only = 0
    with open(args.log, encoding="utf-8", errors="replace") as log:
        for number, line in enumerate(log, 1):
            entry = json.loads(line)
            program, policy, command = entry["program"], entry["policy"], entry["execute"]
            arguments = entry.get("arguments") or {}
            if program == "vqscope" and policy != "read-only":
                bad.append(f"line {number}: the vqscope executable sent {command} through a {policy} client")
            if policy != "read-only":
                continue
            read_only += 1
            counts[command] += 1
            if entry.get("user_request"):
                if command not in ("stop", "cont"):
                    bad.append(f"line {number}: {program} sent {command} as a user's request (only stop and cont are)")
            elif command not in qmp:
                bad.append(f"line {number}: {program} sent {command}, which docs/qmp-allowlist.md does not list")
            elif command == "human-monitor-command":
                words = arguments.get("command-line", "").split()
                name = " ".join(words[:2]) if words[:1] == ["info"] else (words[0] if words else "")
                if name not in hmp:
                    bad.append(f"line {number}: {program} sent HMP `{arguments.get('command-line')}`, not listed")
            elif command in ("x-query-virtio-queue-status", "x-query-virtio-queue-element"):
                path = arguments.get("path", "")
                if entry.get("vhost") != "stopped":
                    bad.append(f"line {number}: {program} asked {command} of {path} without its vhost known stopped")
                for device in args.vhost_device:
                    if f"/{device}/" in path and entry.get("vhost") != "stopped":
                        bad.append(f"line {number}: {program} asked {command} of vhost device {path} while its vhost ran")
            elif command == "qom-get" and arguments.get("property") not in ("addr", "type", "parent_bus"):
                bad.append(f"line {number}: qom-get of property {arguments.get('property')}")
    for line in bad[:50]:
        print("check-qmp-log: " + line, file=sys.stderr)
    if read_only == 0 and args.require_some:
        print("check-qmp-log: no read-only QMP command was logged: the log was not written", file=sys.stderr)
        return 1
    summary = ", ".join(f"{c} {n}" for c, n in counts.most_common())
    print(f"check-qmp-log: {read_only} QMP commands from read-only clients checked against {args.doc}: "
          + ("all on the list" if not bad else f"{len(bad)} not") + f" ({summary})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Bulk `vqscope translate` from standard input, two builds side by side: the rate of addresses a
second (whole command: start-up, slot map, parsing, translating, printing) for addresses in guest
RAM and for addresses refused with a reason (past the end of RAM), in text and in JSON, best of
three runs each, alternated; then each rate of AFTER as a ratio of BEFORE's.

    translate-rate.py --before OLD/vqscope --after NEW/vqscope [--count N] -- TARGET-ARGS...
    e.g. translate-rate.py --before /tmp/old --after .build/release/vqscope -- --pid 1234 --qmp /tmp/q

Output goes to /dev/null; each run's exit status must be 0 (all translated) or 1 (some refused).
"""
import argparse, json, os, random, subprocess, sys, tempfile, time

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("target", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    target = [a for a in args.target if a != "--"]

    slots = json.loads(subprocess.run([args.after, "slots", "--json"] + target, capture_output=True,
                                      text=True, check=True).stdout)["slots"]
    ram = [s for s in slots if s["kind"] == "ram"]
    top = max(s["gpa"] + s["size"] for s in slots)
    rng = random.Random(1)
    files = {}
    for kind in ("mapped", "refused"):
        lines = []
        for _ in range(args.count):
            if kind == "mapped":
                s = rng.choice(ram)
                lines.append(hex(s["gpa"] + rng.randrange(s["size"])))
            else:
                lines.append(hex(top + rng.randrange(1 << 40)))
        f = tempfile.NamedTemporaryFile("w", prefix=f"vqscope-translate-{kind}-", delete=False)
        f.write("\n".join(lines) + "\n")
        f.close()
        files[kind] = f.name

    def run(binary, kind, mode):
        command = [binary, "translate"] + target + (["--json"] if mode == "json" else [])
        with open(files[kind]) as stdin, open(os.devnull, "w") as out:
            start = time.monotonic()
            status = subprocess.run(command, stdin=stdin, stdout=out).returncode
            elapsed = time.monotonic() - start
        if status not in (0, 1):
            sys.exit(f"{' '.join(command)} exited {status}")
        return args.count / elapsed

    try:
        print(f"{args.count} addresses a run, best of 3; before {args.before}, after {args.after}")
        print("| addresses | output | before | after | after ÷ before |")
        print("| --- | --- | --- | --- | --- |")
        for kind in ("mapped", "refused"):
            for mode in ("text", "json"):
                best = {"before": 0.0, "after": 0.0}
                for _ in range(3):
                    for which in ("before", "after"):
                        best[which] = max(best[which], run(getattr(args, which), kind, mode))
                print(f"| {kind} | {mode} | {best['before'] / 1e6:.2f} M/s | {best['after'] / 1e6:.2f} M/s "
                      f"| {best['after'] / best['before']:.2f}× |")
    finally:
        for name in files.values():
            os.unlink(name)

if __name__ == "__main__":
    main()

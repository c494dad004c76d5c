#!/usr/bin/env python3
"""Measures the inspector's cost: runs `vqscope [ARGS...] --stats` in a detached tmux session of
120x40 (--width, --height), lets it settle, then reads its CPU time from /proc over a window and quits it with `q`.
Prints the share of one core, frames and polls a second, and the ring entries the event log
missed (a ring that lapped between two polls).

    inspector-cpu.py [--seconds S] [--settle S] [--width W --height H] -- /path/to/vqscope --pid PID --qmp SOCKET
"""
import argparse, os, subprocess, sys, tempfile, time

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--height", type=int, default=40)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    server = f"vqscope-cpu-{os.getpid()}"
    stats = tempfile.NamedTemporaryFile(prefix="vqscope-stats-", delete=False).name
    tmux = ["tmux", "-L", server, "-f", "/dev/null"]
    shell = " ".join("'" + c.replace("'", "'\\''") + "'" for c in command + ["--stats"]) + f" 2>'{stats}'"
    subprocess.run(tmux + ["new-session", "-d", "-x", str(args.width), "-y", str(args.height), "-s", "t", shell], check=True)
    try:
        time.sleep(args.settle)
        pane = int(subprocess.run(tmux + ["display-message", "-p", "-t", "t", "#{pane_pid}"],
                                  capture_output=True, text=True, check=True).stdout)
        # The pane runs a shell that runs vqscope: vqscope is the shell's child.
        children = open(f"/proc/{pane}/task/{pane}/children").read().split()
        pid = int(children[0]) if children else pane
        tick = os.sysconf("SC_CLK_TCK")

        def cpu():
            # Nanoseconds on a CPU from the scheduler (every thread), where the kernel keeps them;
            # else user and system time in clock ticks (10 ms: coarse over a short window).
            try:
                return sum(int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
                           for t in os.listdir(f"/proc/{pid}/task")) / 1e9
            except (OSError, ValueError, IndexError):
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / tick

        start_cpu, start = cpu(), time.monotonic()
        time.sleep(args.seconds)
        used, elapsed = cpu() - start_cpu, time.monotonic() - start
        subprocess.run(tmux + ["send-keys", "-t", "t", "q"], check=True)
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.1)
        summary = open(stats).read().strip()
        print(f"inspector {args.width}x{args.height}: {100 * used / elapsed:.3f}% of one core over {elapsed:.1f} s; {summary}")
    finally:
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
        os.unlink(stats)

if __name__ == "__main__":
    main()

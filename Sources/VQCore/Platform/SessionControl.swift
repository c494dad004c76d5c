import Glibc

/// What a long-running session (``WatchSession``, ``CaptureSession``, ``DiagnoseSession``, the
/// inspector) asks of the world: the time, how to wait, and whether to stop. The commands give
/// ``signals``; tests give a clock they move and a stop condition of their own.
public struct SessionControl {
    /// Monotonic seconds (``MonotonicClock``): every duration and age.
    public var now: () -> Double
    /// Wall-clock seconds since the epoch (`CLOCK_REALTIME`): the times written to output files.
    public var wallNow: () -> Double
    /// Waits `seconds`, returning early once ``shouldStop`` says so.
    public var sleep: (Double) -> Void
    /// Whether the user asked the session to end (a signal).
    public var shouldStop: () -> Bool

    /// A control from its parts.
    public init(now: @escaping () -> Double, wallNow: @escaping () -> Double, sleep: @escaping (Double) -> Void,
                shouldStop: @escaping () -> Bool) {
        self.now = now
        self.wallNow = wallNow
        self.sleep = sleep
        self.shouldStop = shouldStop
    }

    /// The real clocks, stopping on SIGINT, SIGTERM or SIGHUP (``StopSignals``; installs its handlers).
    public static func signals() -> SessionControl {
        StopSignals.install()
        return SessionControl(now: MonotonicClock.now, wallNow: WallClock.now,
                              sleep: { WallClock.sleep(seconds: $0, unless: { StopSignals.pending != 0 }) },
                              shouldStop: { StopSignals.pending != 0 })
    }
}

/// `CLOCK_REALTIME`, and a sleep a signal cuts short.
public enum WallClock {
    /// Seconds since the epoch.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Sleeps `seconds`; a signal ends the sleep when `stop` then says so, else it goes on.
    public static func sleep(seconds: Double, unless stop: () -> Bool) {
        guard seconds > 0 else { return }
        let s = min(seconds, 1e6)
        var request = timespec(tv_sec: Int(s), tv_nsec: Int((s - s.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR && !stop() {
            request = remaining
        }
    }
}

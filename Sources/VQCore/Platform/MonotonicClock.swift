import Glibc

/// `CLOCK_MONOTONIC`: time that never jumps, the same for every process of a boot (so times saved
/// by one run compare with the next). What every timing, timeout and age in vqscope reads.
public enum MonotonicClock {
    /// Seconds.
    @Sendable public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Nanoseconds.
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Sleeps `seconds` (nothing when not positive), resuming after signals.
    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        sleep(untilNanoseconds: nanoseconds() + UInt64(min(seconds, 1e6) * 1e9))
    }

    /// Sleeps until the clock reads `deadline` nanoseconds.
    public static func sleep(untilNanoseconds deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}

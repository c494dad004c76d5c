import Glibc
import Synchronization

/// SIGINT, SIGTERM and SIGHUP while the inspector owns the terminal: the handler only records the
/// signal; the loop sees it within one key timeout, restores the terminal and exits.
public enum StopSignals {
    private static let caught = Atomic<Int32>(0)

    /// Installs the handlers (without SA_RESTART, so a blocked read returns early).
    public static func install() {
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in StopSignals.caught.store(number, ordering: .relaxed) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signal, &action, nil)
        }
    }

    /// The signal caught, if any (0 when none).
    public static var pending: Int32 { caught.load(ordering: .relaxed) }
}

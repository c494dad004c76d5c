import Glibc
import Synchronization

/// SIGINT, SIGTERM and SIGHUP while a long-running session runs (watch, capture, diagnose, the
/// inspector): the handler only records the signal; the session sees it at its next step (a
/// blocked read or sleep returns early, since the handlers are installed without SA_RESTART) and
/// ends the way it ends anyway, the terminal restored and the output complete.
///
/// The one piece of global state in VQCore: a signal handler cannot carry a context. Sessions do not
/// read it themselves; they are given a ``SessionControl`` whose `shouldStop` does.
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

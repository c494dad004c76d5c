import CVQSys
import Glibc

/// The life of the `vqscope demo-guest` process: builds the guest, serves QMP, says it is ready on
/// standard output, and runs until SIGTERM, SIGINT or SIGHUP, or until the process that started it
/// dies; then removes its sockets.
public enum DemoGuestProcess {
    /// The environment variable through which the launcher names itself, so that the guest can
    /// tell when it is orphaned.
    public static let parentVariable = "VQSCOPE_DEMO_PARENT"
    /// The first word of the line printed once every QMP socket listens.
    public static let readyWord = "VQSCOPE-DEMO-READY"

    /// Runs the guest until told to stop. Throws (before printing the ready line) when it cannot
    /// start.
    public static func run(_ options: DemoGuestOptions) throws(DemoError) {
        // Signals are taken by sigtimedwait below: block them before any thread exists, so that
        // every thread inherits the mask and none dies of them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let parent = getenv(parentVariable).flatMap { Int32(String(cString: $0)) }
        if let parent {
            // The kernel's word when the parent goes; checked once now, in case it already went.
            _ = cvq_set_parent_death_signal(SIGTERM)
            if getppid() != parent { return }
        }

        let guest = try SimulatedGuest(configuration: options.configuration)
        let server = try DemoQMPServer(guest: guest, socketPaths: options.qmpSockets)
        defer {
            server.stop()
            guest.stop()
        }
        try guest.start()
        try server.start()
        let line = "\(readyWord) pid=\(getpid()) qmp=\(options.qmpSockets[0])\n"
        _ = line.withCString { write(1, $0, strlen($0)) }

        var info = siginfo_t()
        var interval = timespec(tv_sec: 0, tv_nsec: 500_000_000)
        while true {
            let signal = sigtimedwait(&signals, &info, &interval)
            if signal > 0 { return }
            if let parent, getppid() != parent { return }
        }
    }
}

import CVQSys
import Glibc
import Synchronization
import VQCore

/// Starts the demo's simulated guest as a child process (`vqscope demo-guest ...`, through
/// posix_spawn) and stops it again.
///
/// The child gets a private directory (mode 0700) for its QMP sockets and its log (its standard
/// error), a process group of its own (a Ctrl-C in the terminal reaches only the parent, which
/// then calls ``terminate()``), and the parent's PID so that it exits when the parent dies. Its
/// parent-death signal follows the *thread* that launched it: launch it from a thread that lives as
/// long as the demo (the main thread), not from a short-lived worker.
public final class DemoGuestLauncher: Sendable {
    /// The child's PID: what `vqscope --pid` takes.
    public let pid: Int32
    /// The child's first QMP socket.
    public let qmpPath: String
    /// Every QMP socket of the child (one client at a time on each).
    public let qmpPaths: [String]
    /// The private directory holding the sockets and the log, removed by ``terminate()``.
    public let directory: String
    /// The child's standard error.
    public let logPath: String
    private let finished = Mutex(false)

    private init(pid: Int32, qmpPaths: [String], directory: String, logPath: String) {
        self.pid = pid
        self.qmpPath = qmpPaths[0]
        self.qmpPaths = qmpPaths
        self.directory = directory
        self.logPath = logPath
    }

    deinit { terminate() }

    /// Spawns `executable demo-guest ...` (`executable` is vqscope itself: /proc/self/exe's target)
    /// with its sockets in a new private directory under `directory`, and waits (at most
    /// `timeoutMilliseconds`) for it to say it is ready.
    public static func launch(executable: String, directory: String, ramSize: UInt64 = 64 << 20,
                              timeoutMilliseconds: Int = 10_000) throws(DemoError) -> DemoGuestLauncher {
        let prefix = (directory.hasSuffix("/") ? directory : directory + "/") + "vqscope-demo-XXXXXX"
        var template = Array(prefix.utf8CString)
        guard mkdtemp(&template) != nil else { throw .system("creating a private directory in \(directory)", errno) }
        let privateDirectory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let sockets = [privateDirectory + "/qmp.sock", privateDirectory + "/qmp-2.sock"]
        let logPath = privateDirectory + "/guest.log"
        let options = DemoGuestOptions(configuration: .init(ramSize: ramSize), qmpSockets: sockets)

        let pid: Int32, readEnd: Int32
        do {
            (pid, readEnd) = try spawn(executable: executable, arguments: ["demo-guest"] + options.arguments, logPath: logPath)
        } catch {
            removeDirectory(privateDirectory)
            throw error
        }
        let launcher = DemoGuestLauncher(pid: pid, qmpPaths: sockets, directory: privateDirectory, logPath: logPath)
        defer { close(readEnd) }
        switch readLine(readEnd, timeoutMilliseconds: timeoutMilliseconds) {
        case .success(let line) where line.hasPrefix(DemoGuestProcess.readyWord + " "):
            return launcher
        case .success(let line):
            launcher.terminate()
            throw .launchFailed("it printed '\(line)' instead of \(DemoGuestProcess.readyWord)")
        case .failure(let why):
            let log = launcher.logTail()
            launcher.terminate()
            throw .launchFailed(why.text + (log.isEmpty ? "" : ": " + log))
        }
    }

    /// Stops the child (SIGTERM, then SIGKILL after 5 s), reaps it and removes its directory.
    /// Idempotent.
    public func terminate() {
        let already = finished.withLock { done -> Bool in
            defer { done = true }
            return done
        }
        guard !already else { return }
        Self.stop(pid)
        Self.removeDirectory(directory)
    }

    /// The last line the child wrote to its log.
    private func logTail() -> String {
        let fd = open(logPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &bytes, bytes.count)
        guard n > 0 else { return "" }
        return String(decoding: bytes[0..<n], as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    }

    // MARK: The system calls

    private static func spawn(executable: String, arguments: [String], logPath: String) throws(DemoError) -> (pid: Int32, readEnd: Int32) {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw .system("pipe", errno) }
        for fd in pipeEnds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = cvq_spawn_actions_close_from(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var environment = ["\(DemoGuestProcess.parentVariable)=\(getpid())"]
        for name in ["PATH", "HOME", "LANG", "TMPDIR"] {
            if let value = getenv(name) { environment.append("\(name)=\(String(cString: value))") }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(pipeEnds[1])
        guard rc == 0 else {
            close(pipeEnds[0])
            throw .system("starting \(executable)", rc)
        }
        return (pid, pipeEnds[0])
    }

    /// The first line from `fd`, waiting at most `timeoutMilliseconds` in all.
    private static func readLine(_ fd: Int32, timeoutMilliseconds: Int) -> Result<String, LaunchProblem> {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        var bytes: [UInt8] = []
        while true {
            if let newline = bytes.firstIndex(of: 0x0a) { return .success(String(decoding: bytes[..<newline], as: UTF8.self)) }
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { return .failure(LaunchProblem("it said nothing within \(timeoutMilliseconds) ms")) }
            switch Sys.waitReadable(fd, milliseconds: Int32(min((deadline - now) / 1_000_000 + 1, 1000))) {
            case .failure(let e): return .failure(LaunchProblem("poll: \(e)"))
            case .success(false): continue
            case .success(true): break
            }
            var chunk = [UInt8](repeating: 0, count: 512)
            let n: Int
            switch chunk.withUnsafeMutableBytes({ Sys.readSome(fd, $0) }) {
            case .failure(let e): return .failure(LaunchProblem("read: \(e)"))
            case .success(let count): n = count
            }
            guard n > 0 else { return .failure(LaunchProblem("it exited before it was ready")) }
            bytes += chunk[0..<n]
            guard bytes.count < 4096 else { return .failure(LaunchProblem("its first line is too long")) }
        }
    }

    /// SIGTERM, up to 5 s for the process to exit, then SIGKILL; reaped either way.
    private static func stop(_ pid: Int32) {
        var status: Int32 = 0
        guard kill(pid, SIGTERM) == 0 else {
            _ = waitpid(pid, &status, WNOHANG)
            return
        }
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while MonotonicClock.nanoseconds() < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno == ECHILD) { return }
            MonotonicClock.sleep(untilNanoseconds: MonotonicClock.nanoseconds() + 10_000_000)
        }
        kill(pid, SIGKILL)
        Sys.reap(pid)
    }

    /// Removes `path` and the files in it (the sockets and the log; the directory holds nothing else).
    private static func removeDirectory(_ path: String) {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

/// Why the child did not come up, as an error value for `Result`.
private struct LaunchProblem: Error, Sendable {
    let text: String
    init(_ text: String) { self.text = text }
}

import Glibc

/// Helper programs vqscope runs and waits for (`virsh qemu-monitor-command`), with the rest of
/// ``Sys``'s libc calls.
extension Sys {
    /// How a helper program ended.
    enum ChildOutcome: Equatable {
        /// It exited with `status`, having printed `output` and `errors`.
        case exited(status: Int32, output: [UInt8], errors: [UInt8])
        /// It was still running at the time-out and was killed.
        case timedOut
        /// It could not be started (`posix_spawnp`'s error: ENOENT when not installed).
        case notStarted(Errno)
    }

    /// The most a helper may print on each stream before it is killed as broken.
    static let maxChildOutputBytes = 64 << 20

    /// Runs `arguments[0]` (found on `PATH`) with `arguments`: its exit status and what it printed,
    /// within `timeoutMilliseconds`, after which it is killed. Standard input is /dev/null.
    static func runChild(_ arguments: [String], timeoutMilliseconds: Int32) -> ChildOutcome {
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard pipe(&out) == 0 else { return .notStarted(.current) }
        guard pipe(&err) == 0 else { close(out[0]); close(out[1]); return .notStarted(.current) }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        close(out[1]); close(err[1])
        guard rc == 0 else { close(out[0]); close(err[0]); return .notStarted(Errno(rc)) }

        var output: [UInt8] = [], errors: [UInt8] = []
        var open = [out[0], err[0]]
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeoutMilliseconds)) * 1_000_000
        var timedOut = false
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline, output.count <= maxChildOutputBytes, errors.count <= maxChildOutputBytes else { timedOut = true; break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(clamping: (deadline - now + 999_999) / 1_000_000))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            for f in fds where f.revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(f.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if f.fd == out[0] { output += chunk[0..<n] } else { errors += chunk[0..<n] }
                } else if n == 0 || errno != EINTR {
                    close(f.fd)
                    open.removeAll { $0 == f.fd }
                }
            }
        }
        for fd in open { close(fd) }
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { return .timedOut }
        let exited = status & 0x7f == 0
        return .exited(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output, errors: errors)
    }
}

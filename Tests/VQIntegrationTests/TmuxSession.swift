import Foundation
import XCTest

/// The real vqscope binary in a detached tmux session of a given size, driven the way a person
/// would: keys in with `send-keys`, the screen out with `capture-pane`. Each session has its own
/// tmux server socket, so tests never see each other's sessions (or the user's).
final class TmuxSession {
    let socket: String
    /// Where the shell in the pane writes vqscope's exit status.
    let statusPath: String
    private(set) var width: Int
    private(set) var height: Int

    nonisolated(unsafe) private static var counter = 0

    /// Starts `arguments` (vqscope's, after the binary) in a `width`×`height` session.
    init(_ arguments: [String], width: Int = 120, height: Int = 40) throws {
        Self.counter += 1
        socket = "vqscope-test-\(getpid())-\(Self.counter)"
        self.width = width
        self.height = height
        statusPath = NSTemporaryDirectory() + socket + ".status"
        unlink(statusPath)
        // A shell runs vqscope and records its exit status in a file: that does not depend on the
        // tmux server noticing its child's exit. remain-on-exit keeps the last screen readable.
        let command = ([Tool.executable.path] + arguments).map(Self.quote).joined(separator: " ")
            + "; echo $? > " + Self.quote(statusPath)
        try tmux(["new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "t", "-e", "TERM=xterm-256color", command])
        try tmux(["set-option", "-t", "t", "remain-on-exit", "on"])
    }

    deinit {
        _ = try? tmux(["kill-server"])
        unlink(statusPath)
    }

    static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs tmux on this session's server and returns what it printed. Spawned and reaped directly
    /// (posix_spawn, waitpid): the server `new-session` starts outlives its client.
    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        let output = NSTemporaryDirectory() + "vqscope-tmux-\(UUID().uuidString)"
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ["/usr/bin/tmux", "-L", socket, "-f", "/dev/null"] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        // An empty signal mask and default handlers: the tmux server this may start must see SIGCHLD
        // to notice that vqscope exited, whatever the test thread blocks.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for signal in [SIGCHLD, SIGPIPE, SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/tmux", &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else { throw BenchError("tmux could not be started (\(String(cString: strerror(spawned))))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let data = FileManager.default.contents(atPath: output) ?? Data()
        guard status == 0 else {
            throw BenchError("tmux \(arguments.prefix(2).joined(separator: " ")) failed (status \(status))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The screen as text, one line a row.
    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", "t"]) }

    /// Sends keys by tmux's names (`Tab`, `Enter`, `BSpace`, `Up`, `C-c`, or literal characters).
    func send(_ keys: String...) throws { try tmux(["send-keys", "-t", "t"] + keys) }

    /// Sends characters literally (a typed address).
    func type(_ text: String) throws { try tmux(["send-keys", "-t", "t", "-l", text]) }

    func resize(width: Int, height: Int) throws {
        try tmux(["resize-window", "-t", "t", "-x", "\(width)", "-y", "\(height)"])
        self.width = width
        self.height = height
    }

    /// Waits until the screen satisfies `condition` (bounded; generous for a loaded machine) and
    /// returns it; fails with the last screen otherwise.
    @discardableResult
    func wait(for what: String, timeout: TimeInterval = 30, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw BenchError("the screen never showed \(what) in \(Int(timeout)) s; it showed:\n\(last)")
    }

    /// Waits until the screen contains `text`.
    @discardableResult
    func wait(for text: String, timeout: TimeInterval = 30) throws -> String {
        try wait(for: "'\(text)'", timeout: timeout) { $0.contains(text) }
    }

    /// vqscope's exit status once it has exited, else `nil`.
    func exitStatus() throws -> Int32? {
        guard let text = try? String(contentsOfFile: statusPath, encoding: .utf8), text.hasSuffix("\n") else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits for vqscope to exit and returns its status.
    func waitForExit(timeout: TimeInterval = 20) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = try exitStatus() { return status }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw BenchError("vqscope did not exit in \(Int(timeout)) s; the screen:\n\(try screen())")
    }

    /// The process ID of vqscope: the child of the pane's shell.
    func vqscopePID() throws -> Int32? {
        guard let shell = Int32(try tmux(["display-message", "-p", "-t", "t", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return nil
        }
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.first
    }
}

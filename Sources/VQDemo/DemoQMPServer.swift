import Glibc
import Synchronization
import VQCore

/// The simulated guest's QEMU machine protocol server: one Unix socket per `-qmp unix:PATH` option,
/// each serving one client at a time as QEMU does (a second client waits, without a greeting, until
/// the first closes), all on one thread of their own.
///
/// Each connection gets QEMU's greeting, negotiates capabilities, then sends one JSON command a
/// line and gets one reply a line (events before it: STOP and RESUME go to every negotiated
/// client). A line longer than ``maxLineBytes`` ends the connection with an error.
public final class DemoQMPServer: Sendable {
    /// The socket paths, in the order given.
    public let socketPaths: [String]
    private let listeners: [Int32]
    private let commands: QMPCommands
    private let thread = Mutex<DemoThread?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)

    /// The longest command line accepted, in bytes.
    public static let maxLineBytes = 1 << 20

    /// Listens on every path in `socketPaths` (replacing stale socket files) for `guest`.
    public init(guest: SimulatedGuest, socketPaths: [String]) throws(DemoError) {
        guard !socketPaths.isEmpty else { throw .invalidConfiguration("the demo guest needs at least one -qmp unix:PATH,server=on,wait=off") }
        var listeners: [Int32] = []
        for path in socketPaths {
            do { listeners.append(try UnixSocket.listen(at: path)) } catch {
                for (fd, path) in zip(listeners, socketPaths) { close(fd); unlink(path) }
                throw error
            }
        }
        self.socketPaths = socketPaths
        self.listeners = listeners
        self.commands = QMPCommands(guest: guest)
    }

    deinit { stop() }

    /// Starts serving on a thread of its own (which keeps the server alive until ``stop()``).
    public func start() throws(DemoError) {
        try thread.withLock { (thread: inout DemoThread?) throws(DemoError) in
            guard thread == nil, !closed.load(ordering: .relaxed) else { return }
            thread = try DemoThread { [self] in self.serve() }
        }
    }

    /// Stops serving, closes every connection and socket and removes the socket files. Idempotent.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        let running = thread.withLock { thread -> DemoThread? in
            defer { thread = nil }
            return thread
        }
        running?.join()
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        for (fd, path) in zip(listeners, socketPaths) {
            close(fd)
            unlink(path)
        }
    }

    /// One client connection and what it has sent so far.
    private struct Connection {
        let fd: Int32
        var pending: [UInt8] = []
        var session = QMPSession()
    }

    private func serve() {
        // Connection per listener: a listener with a client is not polled (its next client waits).
        var connections: [Connection?] = Array(repeating: nil, count: listeners.count)
        defer { for connection in connections { if let connection { close(connection.fd) } } }
        while !stopping.load(ordering: .relaxed) {
            var watched: [(fd: Int32, listener: Int, isClient: Bool)] = []
            for (i, listener) in listeners.enumerated() {
                if let connection = connections[i] { watched.append((connection.fd, i, true)) }
                else { watched.append((listener, i, false)) }
            }
            for ready in UnixSocket.waitReadable(watched.map(\.fd), milliseconds: 100) {
                let item = watched[ready]
                if !item.isClient {
                    guard let fd = UnixSocket.accept(item.fd) else { continue }
                    if UnixSocket.send(fd, Array((QMPCommands.greeting.text + "\r\n").utf8)) {
                        connections[item.listener] = Connection(fd: fd)
                    } else {
                        close(fd)
                    }
                    continue
                }
                guard var connection = connections[item.listener] else { continue }
                guard let bytes = UnixSocket.receive(connection.fd) else {
                    close(connection.fd)
                    connections[item.listener] = nil
                    continue
                }
                connection.pending += bytes
                var open = true
                while open, let newline = connection.pending.firstIndex(of: 0x0a) {
                    let line = Array(connection.pending[..<newline])
                    connection.pending.removeSubrange(...newline)
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x0d || $0 == 0x09 }) { continue }
                    let reply = commands.handle(line, session: &connection.session)
                    connections[item.listener] = connection
                    for event in reply.events {
                        for index in connections.indices where connections[index]?.session.negotiated == true {
                            _ = UnixSocket.send(connections[index]!.fd, Array((event.text + "\r\n").utf8))
                        }
                    }
                    open = UnixSocket.send(connection.fd, Array((reply.response.text + "\r\n").utf8))
                }
                if open && connection.pending.count > Self.maxLineBytes {
                    let error = QMPCommands.errorReply(QMPFailure(.generic, "QMP input longer than \(Self.maxLineBytes) bytes"), id: nil)
                    _ = UnixSocket.send(connection.fd, Array((error.text + "\r\n").utf8))
                    open = false
                }
                if open {
                    connections[item.listener] = connection
                } else {
                    close(connection.fd)
                    connections[item.listener] = nil
                }
            }
        }
    }
}

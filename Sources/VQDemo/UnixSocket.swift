import Glibc
import VQCore

/// The Unix-socket calls the QMP server makes (the EINTR retries are VQCore's ``Sys``'s).
enum UnixSocket {
    /// A listening stream socket at `path` (an old socket file there is removed first, as QEMU
    /// does with `server=on`).
    static func listen(at path: String, backlog: Int32 = 4) throws(DemoError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .invalidConfiguration("QMP socket path '\(path)' is empty or longer than \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        unlink(path)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, Glibc.listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            throw .system("listening on \(path)", code)
        }
        return fd
    }

    /// Accepts one connection (close-on-exec, with a 2 s send time-out so that a client that stops
    /// reading cannot stall the server), or nil.
    static func accept(_ listener: Int32) -> Int32? {
        guard case .success(let fd) = Sys.accept(listener) else { return nil }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Whatever is there to read, up to 64 KiB: nil at end of stream or on error.
    static func receive(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        switch buffer.withUnsafeMutableBytes({ Sys.receiveWaiting(fd, $0) }) {
        case .success(let n?) where n > 0: return Array(buffer[0..<n])
        case .success(nil): return []
        default: return nil
        }
    }

    /// Sends all of `bytes`; false when the peer is gone or stopped reading.
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        if case .success = Sys.writeAll(fd, bytes) { return true }
        return false
    }

    /// Waits up to `milliseconds` for any of `fds` to be readable (or hung up): their indexes.
    static func waitReadable(_ fds: [Int32], milliseconds: Int32) -> [Int] {
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let rc = poll(&polls, nfds_t(polls.count), milliseconds)
        guard rc > 0 else { return [] }
        return polls.indices.filter { polls[$0].revents != 0 }
    }
}

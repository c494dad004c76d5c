import CVQSys
import Glibc

/// Every libc call vqscope makes lives here, once, with its EINTR retry. Nothing here writes to a
/// target process or its memory: target files are opened read-only and process memory is only read;
/// what is written is vqscope's own output, its history file and its own sockets. The executable
/// and the demo use the public calls; nobody else loops on EINTR.
public enum Sys {
    /// `open(path, O_RDONLY | O_CLOEXEC)`.
    static func openReadOnly(_ path: String) -> Result<Int32, Errno> {
        retrying { open(path, O_RDONLY | O_CLOEXEC) }
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// `open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)`: a new private file
    /// of vqscope's own (its history), never one that exists, never through a link.
    public static func createPrivate(_ path: String) -> Result<Int32, Errno> {
        retrying { open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
    }

    /// `write` until all of `bytes` is written (to vqscope's output or its own files; never to a
    /// target's memory). A short count from a full disk or a closed pipe is the errno of the next call.
    public static func write(_ fd: Int32, all bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> {
        var done = 0
        while done < bytes.count {
            switch retrying({ Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }) {
            case .failure(let e): return .failure(e)
            case .success(0): return .failure(Errno(rawValue: EIO))
            case .success(let n): done += n
            }
        }
        return .success(())
    }

    /// The host's page size, `sysconf(_SC_PAGESIZE)` (4 KiB on x86; 16 or 64 KiB on some arm64 and
    /// POWER hosts): the unit of `/proc/PID/pagemap` entries and of residency.
    static let pageSize: UInt64 = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? UInt64(size) : 4096
    }()

    /// `open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)`: a log of vqscope's own (never a target's file).
    static func openAppending(_ path: String) -> Result<Int32, Errno> {
        retrying { open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) }
    }

    /// One `write` of a whole line to a file opened with ``openAppending(_:)`` (O_APPEND keeps each
    /// line whole beside other writers).
    static func appendLine(_ fd: Int32, _ bytes: [UInt8]) -> Result<Void, Errno> {
        let n = retrying { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        switch n {
        case .failure(let e): return .failure(e)
        case .success(let count) where count == bytes.count: return .success(())
        case .success: return .failure(Errno(rawValue: EIO))
        }
    }

    /// `pread` of the whole buffer; a short count means end of file.
    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Result<Int, Errno> {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(Int64(bitPattern: offset &+ UInt64(done))))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                // Bytes read before the failure count: the caller names the first byte that failed.
                return done > 0 ? .success(done) : .failure(Errno(code))
            }
            if n == 0 { break }
            done += n
        }
        return .success(done)
    }

    /// `process_vm_readv(pid, local, remote)`: bytes read, or errno.
    static func processVMReadv(_ pid: Int32, local: UnsafePointer<iovec>, localCount: Int,
                               remote: UnsafePointer<iovec>, remoteCount: Int) -> Result<Int, Errno> {
        let n = retrying { cvq_process_vm_readv(pid, local, UInt(localCount), remote, UInt(remoteCount)) }
        return n.map { Int($0) }
    }

    /// The target of a symbolic link (`/proc/PID/exe`, `/proc/PID/fd/N`).
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A whole small file (`/proc` text files), or errno; `followLinks: false` refuses a symbolic
    /// link at the last component (O_NOFOLLOW).
    public static func readFile(_ path: String, limit: Int = 64 << 20, followLinks: Bool = true) -> Result<[UInt8], Errno> {
        let opened = followLinks ? openReadOnly(path) : retrying { open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        switch opened {
        case .failure(let code): return .failure(code)
        case .success(let fd):
            defer { close(fd) }
            var result: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: min(max(limit, 1), 65536))
            while result.count < limit {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return .failure(.current)
                }
                if n == 0 { break }
                result.append(contentsOf: chunk[0..<n])
            }
            return .success(result)
        }
    }

    /// The names in a directory (`/proc`, `/proc/PID/fd`).
    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func fileSize(_ fd: Int32) -> UInt64? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }

    /// `pidfd_open(pid, 0)` (Linux 5.3): a descriptor of process `pid` that becomes readable when
    /// the process ends; it holds no other power over the process here (nothing is sent through it).
    public static func openProcess(_ pid: Int32) -> Result<Int32, Errno> {
        retrying { cvq_pidfd_open(pid) }
    }

    /// Whether the process behind `pidfd` (``openProcess(_:)``) has ended: exited (a zombie) or
    /// gone. Asked without waiting, one `poll`: cheaper than reading its `/proc` status.
    public static func processEnded(_ pidfd: Int32) -> Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        guard case .success(let n) = retrying({ Glibc.poll(&entry, 1, 0) }) else { return false }
        return n > 0 && entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0
    }

    /// Whether `pid` is a running process: it exists and is not a zombie (exited, not yet reaped).
    static func isProcessAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard case .success(let stat) = readFile("/proc/\(pid)/stat", limit: 4096),
              let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return true }
        let state = stat[close + 2]
        return state != UInt8(ascii: "Z") && state != UInt8(ascii: "X")
    }

    private static func retrying<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
        while true {
            let value = call()
            if value >= 0 { return .success(value) }
            let code = errno
            if code != EINTR { return .failure(Errno(code)) }
        }
    }
}

extension Sys {
    /// A connected Unix stream socket, or errno. The connect never waits: a listener whose backlog
    /// is full (a QMP socket held by another client, with connections waiting unaccepted) fails at
    /// once with EAGAIN instead of blocking for as long as the holder keeps it. The socket returned
    /// blocks again (reads wait through ``waitReadable(_:milliseconds:)``).
    static func connectUnix(_ path: String) -> Result<Int32, Errno> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(.current) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { Glibc.close(fd); return .failure(Errno(ENAMETOOLONG)) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let code = Errno.current
            Glibc.close(fd)
            return .failure(code)
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            let code = Errno.current
            Glibc.close(fd)
            return .failure(code)
        }
        return .success(fd)
    }

    /// Waits until `fd` is readable: true, false on time-out, or errno.
    public static func waitReadable(_ fd: Int32, milliseconds: Int32) -> Result<Bool, Errno> {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let rc = poll(&p, 1, milliseconds)
            if rc < 0 { if errno == EINTR { continue }; return .failure(.current) }
            return .success(rc > 0)
        }
    }

    /// One `read` of up to `buffer.count` bytes: 0 at end of stream.
    public static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Sends all of `bytes` to a socket vqscope opened or accepted (never a target's memory), without
    /// SIGPIPE when the peer is gone.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Result<Void, Errno> {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return .failure(.current) }
            done += n
        }
        return .success(())
    }

    /// Whatever is there to read from a socket now (`recv` with MSG_DONTWAIT): the count, 0 at end
    /// of stream, `nil` when nothing is waiting, or errno.
    public static func receiveWaiting(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int?, Errno> {
        switch retrying({ Glibc.recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }) {
        case .success(let n): return .success(n)
        case .failure(let e) where e.rawValue == EAGAIN || e.rawValue == EWOULDBLOCK: return .success(nil)
        case .failure(let e): return .failure(e)
        }
    }

    /// Waits for child `pid` to exit and reaps it (nothing when it is not a child or already reaped).
    public static func reap(_ pid: Int32) {
        var status: Int32 = 0
        _ = retrying { waitpid(pid, &status, 0) }
    }

    /// Accepts one connection on a listening socket of vqscope's own, close-on-exec.
    public static func accept(_ listener: Int32) -> Result<Int32, Errno> {
        let accepted = retrying { Glibc.accept(listener, nil, nil) }
        if case .success(let fd) = accepted { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return accepted
    }
}

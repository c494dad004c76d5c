import Glibc
import Synchronization

/// Reads a live process's virtual memory without stopping it. Opens nothing for writing and never
/// ptrace-attaches.
///
/// Two kernel paths, each used where it is faster (measured by `vqscope-benchmarks`):
/// - a batch, or one large read: `process_vm_readv` with one iovec per request, up to 1024 a call
///   (one system call for a whole ring snapshot; requests close together on one page share a remote iovec);
/// - one small read (64 KiB or less): `pread` on `/proc/PID/mem`, whose open file keeps the target's
///   memory at hand and costs about half of `process_vm_readv`'s fixed price per call.
/// Where `process_vm_readv` is refused (seccomp, policy), everything goes through `/proc/PID/mem`.
public final class ProcessMemory: MemoryReader, Sendable {
    public let pid: Int32
    /// Reads up to this size, alone in a batch, go through `/proc/PID/mem`.
    public static let smallReadLimit = 64 << 10
    private static let maxIOV = 1024

    private struct State {
        /// `/proc/PID/mem`: nil until first needed, -1 once it could not be opened.
        var memFD: Int32?
        var vmReadvRefused = false
    }
    private let state = Mutex(State())

    public init(pid: Int32) {
        self.pid = pid
    }

    deinit {
        state.withLock { if let fd = $0.memFD, fd >= 0 { Sys.close(fd) } }
    }

    public func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        if requests.isEmpty { return }
        let (fd, refused) = state.withLock { s -> (Int32?, Bool) in (s.memFD, s.vmReadvRefused) }
        if requests.count == 1 && requests[0].buffer.count <= Self.smallReadLimit || refused {
            if let fd = fd.flatMap({ $0 >= 0 ? $0 : nil }) ?? (fd == nil ? openProcMem() : nil) {
                return try readProcMem(fd, requests)
            }
            if refused { throw .permissionDenied(pid: pid) }
        }
        var start = 0
        while start < requests.count {
            let end = min(requests.count, start + Self.maxIOV)
            do {
                try readVM(UnsafeMutableBufferPointer(rebasing: requests[start..<end]))
            } catch let error {
                switch error {
                case .system, .permissionDenied:
                    // process_vm_readv refused where /proc/PID/mem may not be (the open checks
                    // permission again).
                    guard let fd = openProcMem() else { throw error }
                    state.withLock { $0.vmReadvRefused = true }
                    return try readProcMem(fd, UnsafeMutableBufferPointer(rebasing: requests[start...]))
                default:
                    throw error
                }
            }
            start = end
        }
    }

    /// One `process_vm_readv` for the whole batch when every request is readable; when one is not,
    /// the call stops there (the kernel reads iovecs in order), that request is marked failed and
    /// the next call starts after it: one call per failure more, never one per request. Through
    /// `/proc/PID/mem`, one `pread` a request as always.
    public func readEach(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) -> [MemoryError?] {
        var failures = [MemoryError?](repeating: nil, count: requests.count)
        var start = 0
        while start < requests.count {
            let end = min(requests.count, start + Self.maxIOV)
            let batch = UnsafeMutableBufferPointer(rebasing: requests[start..<end])
            do throws(MemoryError) {
                try read(batch)
                start = end
            } catch {
                if case .processGone = error {
                    for i in start..<requests.count { failures[i] = error }
                    return failures
                }
                // The requests before the one holding the failing address were read (both paths
                // read in order); go on after it.
                if let k = firstFailed(batch, at: error) {
                    failures[start + k] = error
                    start += k + 1
                } else {
                    for i in start..<end { failures[i] = error }
                    start = end
                }
            }
        }
        return failures
    }

    /// The position in `batch` of the request holding the address `error` names, if any.
    private func firstFailed(_ batch: UnsafeMutableBufferPointer<MemoryReadRequest>, at error: MemoryError) -> Int? {
        guard case .backingUnmapped(let address) = error else { return nil }
        return batch.firstIndex { r in r.buffer.count > 0 && address >= r.address && address - r.address < UInt64(r.buffer.count) }
    }

    /// Remote ranges this close together on one page are read as one (see ``readVM(_:merging:)``).
    static let mergeGap = 1024

    /// One `process_vm_readv` for `requests`. The kernel pins the target's pages once per remote
    /// iovec, which is most of a small read's price: two requests on one page with at most
    /// ``mergeGap`` bytes between them (a split ring's `avail.idx` and `used.idx`, mostly) are one
    /// remote range, the bytes between them read into a scratch buffer. Such a range holds no
    /// page the two requests do not; when it cannot be read whole, the batch is read again
    /// unmerged, so that the error names the request that failed.
    private func readVM(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        if requests.count > 1 && requests.count <= Self.maxIOV / 2 {
            let merged = try withUnsafeTemporaryAllocation(byteCount: Self.mergeGap, alignment: 16) { scratch throws(MemoryError) -> Bool in
                try readVM(requests, merging: scratch)
            }
            if merged { return }
        }
        _ = try readVM(requests, merging: nil)  // unmerged: it reads everything or throws
    }

    /// ``readVM(_:)``'s call, merging neighbouring ranges into `scratch` when given; false when a
    /// merged call could not read everything (nothing is thrown then).
    private func readVM(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>, merging scratch: UnsafeMutableRawBufferPointer?) throws(MemoryError) -> Bool {
        var local = [iovec]()
        var remote = [iovec]()
        local.reserveCapacity(scratch == nil ? requests.count : 2 * requests.count)
        remote.reserveCapacity(requests.count)
        var total = 0
        var end: UInt64 = 0
        let page = Sys.pageSize
        for r in requests where r.buffer.count > 0 {
            let address = r.address
            if let scratch, !remote.isEmpty, address >= end, address - end <= UInt64(scratch.count), address / page == (end &- 1) / page {
                let gap = Int(address - end)
                if gap > 0 { local.append(iovec(iov_base: scratch.baseAddress, iov_len: gap)) }
                remote[remote.count - 1].iov_len += gap + r.buffer.count
                total += gap
            } else {
                remote.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(address)), iov_len: r.buffer.count))
            }
            local.append(iovec(iov_base: r.buffer.baseAddress, iov_len: r.buffer.count))
            total += r.buffer.count
            end = address &+ UInt64(r.buffer.count)
        }
        if total == 0 { return true }
        let result = Sys.processVMReadv(pid, local: local, localCount: local.count, remote: remote, remoteCount: remote.count)
        if case .success(let n) = result, n == total { return true }
        // Merged, and short or refused: the caller reads again unmerged, for its precise error.
        if scratch != nil && local.count > remote.count { return false }
        switch result {
        case .success(let n) where n == total:
            return true
        case .success(let n):
            throw unmapped(failingAddress(requests, afterBytes: n))
        case .failure(let code):
            throw classify(code.rawValue, at: requests.first(where: { $0.buffer.count > 0 })?.address ?? 0)
        }
    }

    private func readProcMem(_ fd: Int32, _ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        for r in requests where r.buffer.count > 0 {
            switch Sys.pread(fd, r.buffer, at: r.address) {
            case .success(let n) where n == r.buffer.count: continue
            case .success(let n): throw unmapped(r.address &+ UInt64(n))
            case .failure(let code): throw classify(code.rawValue, at: r.address)
            }
        }
    }

    /// Opens `/proc/PID/mem` once; nil (remembered) where that is not allowed.
    private func openProcMem() -> Int32? {
        state.withLock { s -> Int32? in
            if let fd = s.memFD { return fd >= 0 ? fd : nil }
            guard case .success(let fd) = Sys.openReadOnly("/proc/\(pid)/mem") else { s.memFD = -1; return nil }
            s.memFD = fd
            return fd
        }
    }

    private func failingAddress(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>, afterBytes n: Int) -> UInt64 {
        var remaining = n
        for r in requests where r.buffer.count > 0 {
            if remaining < r.buffer.count { return r.address &+ UInt64(remaining) }
            remaining -= r.buffer.count
        }
        return requests.last.map { $0.address } ?? 0
    }

    /// A short read: the address is unmapped, unless the whole process has gone.
    private func unmapped(_ address: UInt64) -> MemoryError {
        Sys.isProcessAlive(pid) ? .backingUnmapped(address) : .processGone(pid: pid)
    }

    private func classify(_ code: Int32, at address: UInt64) -> MemoryError {
        switch code {
        case ESRCH: return .processGone(pid: pid)
        case EPERM, EACCES: return Sys.isProcessAlive(pid) ? .permissionDenied(pid: pid) : .processGone(pid: pid)
        case EFAULT, EIO, EINVAL: return Sys.isProcessAlive(pid) ? .backingUnmapped(address) : .processGone(pid: pid)
        default: return .system(call: "reading process \(pid)'s memory", errno: code)
        }
    }
}

import Glibc

/// A page's host-physical frame from `/proc/PID/pagemap` (Documentation/admin-guide/mm/pagemap.rst).
public struct PagemapEntry: Hashable, Sendable {
    public let raw: UInt64
    public init(raw: UInt64) { self.raw = raw }

    /// Bit 63: the page is in RAM.
    public var present: Bool { raw >> 63 & 1 == 1 }
    /// Bit 62: the page is swapped out.
    public var swapped: Bool { raw >> 62 & 1 == 1 }
    /// Bits 0-54: the page frame number when present. The kernel reports 0 to readers without
    /// CAP_SYS_ADMIN.
    public var frame: UInt64 { present ? raw & ((1 << 55) - 1) : 0 }

    /// The host-physical address of `hva` in this page, or why there is none.
    public func hostPhysical(of hva: HostVirtualAddress, pageSize: UInt64 = Pagemap.pageSize) -> Result<HostPhysicalAddress, PagemapError> {
        if swapped { return .failure(.swapped) }
        if !present { return .failure(.notResident) }
        if frame == 0 { return .failure(.frameHidden) }
        let (base, o1) = frame.multipliedReportingOverflow(by: pageSize)
        let (address, o2) = base.addingReportingOverflow(hva.rawValue % pageSize)
        if o1 || o2 { return .failure(.unreadable("frame \(Hex.string(frame)) is out of range")) }
        return .success(HostPhysicalAddress(address))
    }
}

/// Why a host-virtual page has no host-physical address.
public enum PagemapError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Never touched (or discarded): no frame until the guest or QEMU touches it.
    case notResident
    case swapped
    /// Present, but the kernel hid the frame number: reading PFNs needs CAP_SYS_ADMIN.
    case frameHidden
    case unreadable(String)

    public var description: String {
        switch self {
        case .notResident: return "page not resident (never touched, or reclaimed)"
        case .swapped: return "page swapped out"
        case .frameHidden: return "frame number hidden: reading host-physical addresses needs CAP_SYS_ADMIN (root)"
        case .unreadable(let why): return "pagemap unreadable: \(why)"
        }
    }
}

/// Reads a process's page map, one 8-byte entry per virtual page.
public struct Pagemap {
    public let pid: Int32
    private let file: FileMemory
    /// The host's page size: one entry of the page map stands for one page of this size.
    public static var pageSize: UInt64 { Sys.pageSize }

    public init(pid: Int32) throws(TargetError) {
        self.pid = pid
        do { file = try FileMemory(path: "/proc/\(pid)/pagemap", bounded: false) } catch {
            if case .cannotOpen(_, let code) = error, code == EACCES || code == EPERM {
                throw .permissionDenied(pid: pid, what: "the page map")
            }
            throw error
        }
    }

    /// Entries for the pages holding `addresses`, in order, each with its own failure (a read of
    /// the page map that fails for one address does not cost the others their answer).
    public func eachEntry(for addresses: [HostVirtualAddress]) -> [Result<PagemapEntry, MemoryError>] {
        var raw = [UInt64](repeating: 0, count: addresses.count)
        let failures = raw.withUnsafeMutableBytes { bytes in
            var requests = addresses.enumerated().map { i, hva in
                MemoryReadRequest(address: hva.rawValue / Self.pageSize * 8,
                                  buffer: UnsafeMutableRawBufferPointer(rebasing: bytes[i * 8..<i * 8 + 8]))
            }
            return requests.withUnsafeMutableBufferPointer { file.readEach($0) }
        }
        return zip(raw, failures).map { value, failure in
            failure.map { .failure($0) } ?? .success(PagemapEntry(raw: UInt64(littleEndian: value)))
        }
    }

    /// Entries for the pages holding `addresses`, in order; one batched read.
    public func entries(for addresses: [HostVirtualAddress]) throws(MemoryError) -> [PagemapEntry] {
        var raw = [UInt64](repeating: 0, count: addresses.count)
        try rethrowing(MemoryError.self) {
            try raw.withUnsafeMutableBytes { bytes in
                var requests = addresses.enumerated().map { i, hva in
                    MemoryReadRequest(address: hva.rawValue / Self.pageSize * 8,
                                      buffer: UnsafeMutableRawBufferPointer(rebasing: bytes[i * 8..<i * 8 + 8]))
                }
                try requests.withUnsafeMutableBufferPointer { try file.read($0) }
            }
        }
        return raw.map { PagemapEntry(raw: UInt64(littleEndian: $0)) }
    }
}

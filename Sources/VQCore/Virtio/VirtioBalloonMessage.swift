/// What a virtio-balloon chain carries (virtio 1.2, 5.5.6): page frame numbers the driver gives
/// up (inflate) or takes back (deflate), memory statistics, free page hints, or free page reports.
public enum VirtioBalloonMessage: Sendable, Hashable {
    /// An inflate or deflate request: an array of 32-bit PFNs of 4 KiB pages.
    case pages(PageList)
    /// The statistics buffer of the stats queue.
    case statistics(Statistics)
    /// A free page hint command id the driver sends (VIRTIO_BALLOON_F_FREE_PAGE_HINT): 0 stop,
    /// 1 done, or the id of the hinting run the device asked for.
    case hintCommand(UInt32)
    /// Free pages the driver hints or reports (device-writable buffers): how many ranges and bytes.
    case freePages(reporting: Bool, ranges: Int, bytes: UInt64)

    /// The balloon's queues. The first two are always inflate and deflate; the others exist only
    /// with their feature (VIRTIO_BALLOON_F_STATS_VQ, FREE_PAGE_HINT, REPORTING), each after the
    /// ones before it.
    public enum Queue: Sendable, Hashable {
        case inflate, deflate, statistics, freePageHints, reporting

        /// The queue at `index` with `features`; without any of the three features (a scan, or
        /// features not known) the numbering of a device that has them all.
        public init?(index: Int, features: VirtioFeatures) {
            var queues: [Queue] = [.inflate, .deflate]
            let optional: [(VirtioFeatures, Queue)] = [(.balloonStatistics, .statistics), (.balloonFreePageHint, .freePageHints),
                                                       (.balloonReporting, .reporting)]
            if optional.contains(where: { features.contains($0.0) }) {
                queues += optional.filter { features.contains($0.0) }.map(\.1)
            } else {
                queues += optional.map(\.1)
            }
            guard index >= 0, index < queues.count else { return nil }
            self = queues[index]
        }
    }

    /// An inflate or deflate PFN array.
    public struct PageList: Sendable, Hashable {
        /// `true` inflate, `false` deflate.
        public var inflate: Bool
        /// Pages in the request (the buffer's length / 4).
        public var count: Int
        /// The first page frame numbers (at most ``maxShown``).
        public var firstFrames: [UInt32]
        /// A length that is not a whole number of PFNs.
        public var defect: PayloadDefect?

        /// PFNs kept to show.
        public static let maxShown = 4
        /// VIRTIO_BALLOON_PFN_SHIFT: PFNs count 4 KiB pages, whatever the guest's page size.
        public static let pageShift: UInt64 = 12

        /// Decodes the first PFNs of a buffer of `length` bytes.
        public init(_ bytes: [UInt8], length: UInt64, inflate: Bool) {
            self.inflate = inflate
            var r = PayloadReader(bytes)
            var frames: [UInt32] = []
            while frames.count < Self.maxShown, let pfn = r.u32() { frames.append(pfn) }
            firstFrames = frames
            count = Int(min(length / 4, UInt64(Int.max)))
            if length % 4 != 0 { defect = .malformed("\(length) bytes is not a whole number of 4-byte PFNs") }
        }

        /// The guest-physical addresses of the first pages.
        public var firstAddresses: [UInt64] { firstFrames.map { UInt64($0) << Self.pageShift } }
    }

    /// The statistics the driver wrote: (tag u16, value u64) pairs, 10 bytes each, packed.
    public struct Statistics: Sendable, Hashable {
        /// One statistic.
        public struct Entry: Sendable, Hashable, CustomStringConvertible {
            public var tag: UInt16
            public var value: UInt64

            public init(tag: UInt16, value: UInt64) {
                self.tag = tag
                self.value = value
            }

            /// `swap-in`, `free-memory`, `hugetlb-failures`... (VIRTIO_BALLOON_S_*).
            public var name: String {
                let names = ["swap-in", "swap-out", "major-faults", "minor-faults", "free-memory", "total-memory",
                             "available-memory", "disk-caches", "hugetlb-allocations", "hugetlb-failures", "oom-kills",
                             "alloc-stalls", "async-scans", "direct-scans", "async-reclaims", "direct-reclaims"]
                return Int(tag) < names.count ? names[Int(tag)] : "tag \(tag)"
            }

            /// Whether the value is a number of bytes (the memory sizes) rather than a count.
            public var isBytes: Bool { (4...7).contains(tag) }

            /// `free-memory 112.3 MiB`, `major-faults 5`.
            public var description: String { name + " " + (isBytes ? Hex.humanSize(value) : String(value)) }
        }

        /// Each entry's size.
        public static let entrySize = 10
        /// Most entries decoded.
        public static let maxEntries = 16
        /// Characters of a summary's entries (the ten statistics of Linux 6.1 fit).
        static let summaryBudget = 280

        /// The first entries (at most ``maxEntries``).
        public var entries: [Entry]
        /// Entries in the buffer (its length / 10).
        public var count: Int
        /// A length that is not a whole number of entries.
        public var defect: PayloadDefect?

        /// Decodes the entries from the first bytes of a buffer of `length` bytes.
        public init(_ bytes: [UInt8], length: UInt64) {
            var r = PayloadReader(bytes)
            var entries: [Entry] = []
            while entries.count < Self.maxEntries, let tag = r.u16(), let value = r.u64() { entries.append(Entry(tag: tag, value: value)) }
            self.entries = entries
            count = Int(min(length / UInt64(Self.entrySize), UInt64(Int.max)))
            if length % UInt64(Self.entrySize) != 0 {
                defect = .malformed("\(length) bytes is not a whole number of 10-byte statistics")
            }
        }
    }

    /// `balloon inflate 256 pages (1 MiB): 0x12345000 0x12346000…`,
    /// `balloon stats swap-in 0, free-memory 112.3 MiB…`.
    public var summary: String {
        switch self {
        case .pages(let p):
            var s = "balloon \(p.inflate ? "inflate" : "deflate") \(p.count) page\(p.count == 1 ? "" : "s") (\(Hex.humanSize(UInt64(p.count) << 12)))"
            if !p.firstAddresses.isEmpty { s += ": " + p.firstAddresses.map { Hex.string($0) }.joined(separator: " ") }
            if p.count > p.firstFrames.count { s += "…" }
            if let defect = p.defect { s += " (\(defect))" }
            return s
        case .statistics(let st):
            var s = "balloon stats"
            // As many entries as fit a line: Linux's ten statistics do; hostile tags and values may not.
            var shown = 0
            for entry in st.entries where s.count + entry.description.count < Statistics.summaryBudget {
                s += (shown == 0 ? " " : ", ") + entry.description
                shown += 1
            }
            if st.count > shown { s += " (+\(st.count - shown) more)" }
            if let defect = st.defect { s += " (\(defect))" }
            return s
        case .hintCommand(let id):
            let name = id == 0 ? "stop" : id == 1 ? "done" : "id \(id)"
            return "balloon free-page-hint command \(name)"
        case .freePages(let reporting, let ranges, let bytes):
            return "balloon \(reporting ? "free-page-report" : "free-page-hint") \(ranges) range\(ranges == 1 ? "" : "s") \(Hex.humanSize(bytes))"
        }
    }
}

extension VirtioFeatures {
    /// VIRTIO_BALLOON_F_STATS_VQ (1): the balloon has a statistics queue.
    public static let balloonStatistics = VirtioFeatures(rawValue: 1 << 1)
    /// VIRTIO_BALLOON_F_FREE_PAGE_HINT (3): the balloon has a free page hint queue.
    public static let balloonFreePageHint = VirtioFeatures(rawValue: 1 << 3)
    /// VIRTIO_BALLOON_F_REPORTING (5): the balloon has a free page reporting queue.
    public static let balloonReporting = VirtioFeatures(rawValue: 1 << 5)
}

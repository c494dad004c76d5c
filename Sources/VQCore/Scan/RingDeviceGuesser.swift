/// Guesses which kind of device a found ring serves from the shape and contents of its buffers.
///
/// - virtio-blk: a chain of a 16-byte driver-readable request header (type 0 in, 1 out, 4 flush,
///   8 get-id, 11 discard, 13 write-zeroes...), data, and a 1-byte device-writable status; Linux
///   puts it in an indirect table, freed when the request completes (its shape usually survives).
/// - virtio-net-ctrl: a 2-byte readable class/command header, data, a 1-byte writable ack.
/// - virtio-net-tx: readable buffers starting with a 12-byte (10 on legacy devices) virtio-net
///   header followed by an Ethernet frame, or that header alone followed by the frame.
/// - virtio-net-rx: device-writable buffers, alike in size (at least an Ethernet frame), whose
///   used entries hold a virtio-net header and a frame.
/// - virtio-console: single readable buffers (port output, control messages) or single writable
///   page-sized buffers (port input, control input).
/// - virtio-rng: single small device-writable buffers.
/// - virtio-scsi: a readable request header whose LUN starts with byte 1 (then the target, then a
///   flat-space LUN, `0x40 | lun >> 8`), and a writable response.
/// - virtio-9p: a readable 9P message (size[4] type[1] tag[2]) whose size fits the buffer and whose
///   type is a request 9P2000.L knows, and a writable reply buffer.
/// - virtio-input: single 8-byte writable buffers (one `virtio_input_event` each); used ones hold
///   an event type Linux knows (EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC, EV_SW, EV_LED, EV_SND, EV_REP).
/// - virtio-balloon-stats: a single readable buffer of 10-byte tag/value pairs, every tag 0–10.
/// - virtio-balloon: single readable arrays of 4-byte page frame numbers (inflate, deflate), each
///   page in RAM.
/// - virtio-console-control: single 8-byte control messages (id, event 0–7, value).
///
/// ``ScannedRing/guessScore`` says how sure: the chains that voted for the guess, out of those
/// looked at (``recentEntries`` of each side at most).
///
/// Only pages that are resident are read; an unreadable buffer casts no vote.
///
/// ``Guess/verified`` counts the chains whose bytes, reached through the addresses the ring holds,
/// say what they are (an indirect table that holds together, an Ethernet frame, a blk request
/// type, a 9P message...): evidence that the slot map puts those addresses where the guest meant
/// them (``RAMAssignment``), which a chain's shape alone is not.
struct DeviceGuesser {
    let memory: GuestMemory
    let resident: (@Sendable (UInt64, Int) -> [Bool])?
    let ram: RAMRanges

    /// Chains looked at: the latest avail heads and used entries, at most this many each.
    static let recentEntries = 16
    /// Descriptors read from one indirect table at most.
    static let maximumIndirect = 64

    struct Segment {
        var address: UInt64
        var length: UInt32
        var writable: Bool
    }

    /// What the buffers say: the device, why, the chains that voted for it, and the chains whose
    /// contents checked out (``DeviceGuesser``).
    struct Guess {
        var name: String?
        var reasons: [String]
        var score: Int
        var verified = 0
    }

    /// Bytes at `gpa` if every page holding them is resident and readable.
    func read(_ gpa: UInt64, _ count: Int) -> [UInt8]? {
        guard count > 0, ram.contains(gpa, UInt64(count)) else { return nil }
        if let resident {
            var page = gpa & ~0xFFF
            while page < gpa &+ UInt64(count) {
                guard let host = memory.map.hostAddress(of: GuestPhysicalAddress(page)), resident(host & ~(Sys.pageSize - 1), 1).first == true else { return nil }
                page &+= 0x1000
            }
        }
        return try? memory.bytes(at: GuestPhysicalAddress(gpa), count: count)
    }

    /// The guess for a split ring (a packed one is read once and guessed from its snapshot).
    func guess(_ ring: ScannedRing) -> Guess {
        guard ring.location.layout == .split else {
            guard let snapshot = try? PackedRing.snapshot(memory: memory, location: ring.location, maxAttempts: 2) else {
                return Guess(name: nil, reasons: [], score: 0)
            }
            return guess(snapshot)
        }
        let loc = ring.location
        let n = Int(loc.size)
        let layout = SplitRingLayout(size: n)
        guard let table = read(loc.descriptors.rawValue, layout.descriptorTableBytes),
              let avail = read(loc.driverArea.rawValue, layout.availEntriesBytes),
              let used = read(loc.deviceArea.rawValue, layout.usedEntriesBytes) else { return Guess(name: nil, reasons: [], score: 0) }
        let mask = n - 1
        func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
        func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16 }
        func u64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32 }

        // Heads to look at, with the length the device reported when it has used them.
        var heads: [(head: Int, usedLength: UInt32?)] = []
        var seen = Set<Int>()
        let usedIdx = Int(ring.usedIndex)
        for j in 1...Self.recentEntries where j <= min(usedIdx == 0 ? 0 : n, usedIdx) {
            let slot = (usedIdx - j) & mask
            let id = Int(u32(used, layout.usedEntryOffset(slot)))
            if id < n && seen.insert(id).inserted { heads.append((id, u32(used, layout.usedEntryOffset(slot) + 4))) }
        }
        let availIdx = Int(ring.availIndex)
        for j in 1...Self.recentEntries where j <= min(n, availIdx) {
            let head = Int(u16(avail, layout.availEntryOffset((availIdx - j) & mask)))
            if head < n && seen.insert(head).inserted { heads.append((head, nil)) }
        }

        /// The chain from `head`, an indirect table expanded; nil when it does not hold together
        /// (a freed indirect table reused for something else).
        var indirectChains = 0
        func chain(_ head: Int) -> [Segment]? {
            var segments: [Segment] = []
            var i = head
            for _ in 0..<n {
                let at = 16 * i
                let addr = u64(table, at), len = u32(table, at + 8), flags = u16(table, at + 12), next = Int(u16(table, at + 14))
                if addr == 0 && len == 0 { return nil }
                if flags & 4 != 0 {
                    guard segments.isEmpty, len % 16 == 0, len >= 16 else { return nil }
                    let count = min(Int(len / 16), Self.maximumIndirect)
                    guard let inner = read(addr, 16 * count) else { return nil }
                    var k = 0
                    for step in 0..<count {
                        let f = u16(inner, 16 * k + 12)
                        segments.append(Segment(address: u64(inner, 16 * k), length: u32(inner, 16 * k + 8), writable: f & 2 != 0))
                        if f & 1 == 0 {
                            // Linux sizes the table to the chain: a shorter chain is a stale table.
                            guard step == count - 1 && Int(len / 16) == count else { return nil }
                            indirectChains += 1
                            return segments
                        }
                        k = Int(u16(inner, 16 * k + 14))
                        guard k < count else { return nil }
                    }
                    return nil
                }
                segments.append(Segment(address: addr, length: len, writable: flags & 2 != 0))
                if flags & 1 == 0 { return segments }
                i = next
                guard i < n else { return nil }
            }
            return nil
        }

        var observed: [Observation] = []
        for (head, usedLength) in heads {
            let indirectBefore = indirectChains
            let segments = chain(head)
            observed.append(Observation(segments: segments, usedLength: usedLength, throughTable: indirectChains > indirectBefore))
        }
        return judge(observed, looked: heads.count)
    }

    /// One chain looked at: its buffers (nil when it does not hold together), the length the device
    /// reported when it has used it, and whether an indirect table was followed to it.
    struct Observation {
        var segments: [Segment]?
        var usedLength: UInt32?
        var throughTable = false
    }

    /// A used slot of a packed ring: the device wrote the buffer ID and length over the driver's
    /// descriptor and left its address (QEMU's virtqueue_packed_fill_desc), so with in-order
    /// completion the address is the buffer the device used.
    struct PackedUse {
        var address: UInt64
        var length: UInt32
    }

    static let etherTypes: Set<UInt16> = [0x0800, 0x0806, 0x86DD, 0x8100, 0x88A8, 0x88CC, 0x8035]
    static let blkTypes: Set<UInt32> = [0, 1, 4, 8, 10, 11, 13, 14, 16, 18, 20, 22, 24, 26]

    /// Whether `length` bytes at `address` hold a virtio-net header and an Ethernet frame.
    func looksLikeFrame(_ address: UInt64, _ length: UInt32) -> Bool {
        guard length >= 26, let b = read(address, 26) else { return false }
        // The ethertype after a 12-byte header (version 1, mergeable buffers) or a 10-byte one.
        return Self.etherTypes.contains(UInt16(b[24]) << 8 | UInt16(b[25])) || Self.etherTypes.contains(UInt16(b[22]) << 8 | UInt16(b[23]))
    }

    /// The vote of `observed` chains (and a packed ring's used slots `uses`), `looked` chains looked at in all.
    func judge(_ observed: [Observation], uses: [PackedUse] = [], looked: Int) -> Guess {
        func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24 }
        var votes: [String: Int] = [:]
        var why: [String: String] = [:]
        var verified = 0
        var chainVerified = false
        func vote(_ name: String, _ reason: String, verifiedBy contents: Bool = false) {
            votes[name, default: 0] += 1
            if why[name] == nil { why[name] = reason }
            if contents { chainVerified = true }
        }
        var blkLikeUsedLengths = 0, usedLengths = 0, longerThanStatus = false
        for observation in observed {
            let usedLength = observation.usedLength
            if let usedLength {
                usedLengths += 1
                if usedLength % 512 == 1 { blkLikeUsedLengths += 1 }
                if usedLength > 1 { longerThanStatus = true }
            }
            guard let segments = observation.segments, let first = segments.first, let last = segments.last else { continue }
            // A table found where the ring says, holding together: the contents agree with the address.
            chainVerified = observation.throughTable
            defer { if chainVerified { verified += 1 } }
            let readable = segments.allSatisfy { !$0.writable }
            let writable = segments.allSatisfy { $0.writable }
            if let (name, reason, byContents) = otherDevice(segments, usedLength: usedLength) {
                vote(name, reason, verifiedBy: byContents)
            } else if segments.count >= 2 && !first.writable && last.writable && last.length == 1 {
                if first.length == 16 {
                    let type = read(first.address, 4).map { u32($0, 0) }
                    vote("virtio-blk", type.map { Self.blkTypes.contains($0) ? "a blk request (type \($0)): 16-byte header, data, 1-byte status" : "a 16-byte header, data and a 1-byte status" }
                         ?? "a 16-byte header, data and a 1-byte status", verifiedBy: type.map(Self.blkTypes.contains) ?? false)
                } else if first.length == 2 {
                    vote("virtio-net-ctrl", "a 2-byte class/command, data and a 1-byte ack")
                }
            } else if readable {
                if looksLikeFrame(first.address, first.length) {
                    vote("virtio-net-tx", "readable buffers holding a virtio-net header and an Ethernet frame", verifiedBy: true)
                } else if segments.count >= 2 && (first.length == 12 || first.length == 10) {
                    vote("virtio-net-tx", "a \(first.length)-byte virtio-net header before the frame")
                } else {
                    vote("virtio-console", "single readable buffers (port output or control messages)")
                }
            } else if writable {
                if segments.count == 1 {
                    if let usedLength, usedLength >= 26, looksLikeFrame(first.address, min(usedLength, first.length)) {
                        vote("virtio-net-rx", "writable buffers that received Ethernet frames", verifiedBy: true)
                    } else if first.length == 4096 {
                        vote("virtio-console", "single writable page-sized buffers (port or control input)")
                    } else if first.length >= 1500 {
                        vote("virtio-net-rx", "writable buffers of \(first.length) bytes, room for a frame")
                    } else {
                        vote("virtio-rng", "single small writable buffers (\(first.length) bytes)")
                    }
                } else if first.length == 12 || first.length == 10 {
                    vote("virtio-net-rx", "writable chains starting with a virtio-net header")
                }
            }
        }
        // A packed ring's used slots: what the device wrote, at the buffer's address.
        for use in uses {
            chainVerified = false
            usedLengths += 1
            if use.length % 512 == 1 { blkLikeUsedLengths += 1 }
            if use.length > 1 { longerThanStatus = true }
            if use.length == 0 && looksLikeFrame(use.address, 26) {
                vote("virtio-net-tx", "used buffers the device read, holding a virtio-net header and an Ethernet frame", verifiedBy: true)
            } else if use.length >= 26 && looksLikeFrame(use.address, use.length) {
                vote("virtio-net-rx", "used buffers into which the device wrote Ethernet frames", verifiedBy: true)
            } else if use.length == 8, let b = read(use.address, 2), Self.inputEventTypes.contains(UInt16(b[0]) | UInt16(b[1]) << 8) {
                // EV_SYN (0) is also what a zeroed buffer reads as: a vote, not evidence.
                vote("virtio-input", "used 8-byte buffers holding input events", verifiedBy: b[0] != 0 || b[1] != 0)
            }
            if chainVerified { verified += 1 }
        }
        if votes.isEmpty && usedLengths > 0 && blkLikeUsedLengths == usedLengths && longerThanStatus {
            // The chains are gone (freed indirect tables) but the device wrote N*512 + 1 bytes:
            // sectors and a status byte.
            return Guess(name: "virtio-blk", reasons: ["device wrote 512*k + 1 bytes per request (sectors and a status byte)"], score: usedLengths,
                         verified: verified)
        }
        let total = votes.values.reduce(0, +)
        guard let top = votes.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }), top.value * 2 > total else {
            return Guess(name: nil, reasons: votes.isEmpty ? [] : ["buffers of mixed kinds: " + votes.keys.sorted().joined(separator: ", ")], score: 0,
                         verified: verified)
        }
        return Guess(name: top.key, reasons: ["looks like \(top.key): \(why[top.key] ?? "") (\(top.value) of \(looked) chains looked at)"],
                     score: top.value, verified: verified)
    }

    /// The guess for a packed ring from one snapshot of it: the latest (up to ``recentEntries``)
    /// available chains, whole (indirect tables expanded), and the latest used slots before the
    /// device's used position, read as ``PackedUse``s.
    func guess(_ snapshot: PackedRing.Snapshot) -> Guess {
        let chains = snapshot.available.suffix(Self.recentEntries).map { a in
            Observation(segments: a.chain.isClean ? a.chain.elements.map { Segment(address: $0.address.rawValue, length: $0.length, writable: $0.isWritable) } : nil,
                        usedLength: nil, throughTable: a.chain.isClean && a.chain.elements.contains(where: \.isFromIndirectTable))
        }
        var uses: [PackedUse] = []
        let n = snapshot.descriptors.count
        var slot = Int(snapshot.deviceUsed.index)
        for _ in 0..<min(n, Self.recentEntries) where n > 0 {
            slot = (slot + n - 1) % n
            guard case .used = snapshot.states[slot] else { break }
            let d = snapshot.descriptors[slot]
            if d.address.rawValue == 0 && d.length == 0 { break }  // never written: a first lap's tail
            uses.append(PackedUse(address: d.address.rawValue, length: d.length))
        }
        return judge(chains, uses: uses, looked: chains.count + uses.count)
    }

    /// Event types of `virtio_input_event` Linux sends or receives.
    static let inputEventTypes: Set<UInt16> = [0, 1, 2, 3, 4, 5, 0x11, 0x12, 0x14]

    /// The devices told apart by their buffers' contents: virtio-scsi, virtio-9p, virtio-input,
    /// the balloon's statistics and page arrays, virtio-serial's control messages; nil for others.
    /// The flag says whether bytes read from the buffers decided it (not the chain's shape alone).
    func otherDevice(_ segments: [Segment], usedLength: UInt32?) -> (String, String, Bool)? {
        guard let first = segments.first else { return nil }
        let readable = segments.filter { !$0.writable }, writable = segments.filter(\.writable)
        let physicalPages = ram.ends.last.map { $0 >> 12 } ?? 0
        if !first.writable && !writable.isEmpty && first.length >= 19 && first.length != 16, let b = read(first.address, 8) {
            // virtio-scsi: lun[0] = 1, lun[1] = target, lun[2..3] = 0x40 | lun (flat space).
            if b[0] == 1 && b[2] & 0xC0 == 0x40 { return ("virtio-scsi", "a request header with LUN byte 0 = 1 and a flat-space LUN, then a response", true) }
            // 9P: size[4] type[1] tag[2], size = the readable bytes (or fits them).
            let size = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
            let type = NinePMessageType(rawValue: b[4])
            let readableBytes = readable.reduce(UInt64(0)) { $0 + UInt64($1.length) }
            if size >= 7 && UInt64(size) <= readableBytes && type.isRequest && type.isKnown {
                return ("virtio-9p", "a 9P message (size \(size), \(type)) and a reply buffer", true)
            }
        }
        guard segments.count == 1 else { return nil }
        if first.writable && first.length == 8 {
            if let usedLength, usedLength == 8, let b = read(first.address, 2) {
                let type = UInt16(b[0]) | UInt16(b[1]) << 8
                return Self.inputEventTypes.contains(type) ? ("virtio-input", "single 8-byte writable buffers holding input events (type \(type))", true) : nil
            }
            return ("virtio-input", "single 8-byte writable buffers (one input event each)", false)
        }
        guard !first.writable else { return nil }
        if first.length == 8, let b = read(first.address, 8) {
            let event = UInt16(b[4]) | UInt16(b[5]) << 8
            let id = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
            if event <= 7 && id < 0x8000 { return ("virtio-console-control", "8-byte control messages (event \(event))", true) }
        }
        if first.length % 10 == 0 && first.length >= 10 && first.length <= 160, let b = read(first.address, Int(first.length)) {
            let tags = stride(from: 0, to: b.count, by: 10).map { UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8 }
            if tags.allSatisfy({ $0 <= 10 }) && Set(tags).count == tags.count && tags.count >= 2 {
                return ("virtio-balloon-stats", "\(tags.count) statistics of 10 bytes, tags 0-10", true)
            }
        }
        if first.length % 4 == 0 && first.length >= 4 && first.length <= 4096 && first.length != 16,
           let b = read(first.address, Int(min(first.length, 64))) {
            let pfns = stride(from: 0, to: b.count, by: 4).map { UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24 }
            // Page frame numbers of RAM pages, distinct and not small text or counters.
            if pfns.count >= 4 && pfns.allSatisfy({ $0 >= 0x100 && UInt64($0) < physicalPages && ram.contains(UInt64($0) << 12, 4096) })
                && Set(pfns).count == pfns.count {
                return ("virtio-balloon", "arrays of \(first.length / 4) page frame numbers, every page in RAM (inflate or deflate)", true)
            }
        }
        return nil
    }
}

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
///
/// Only pages that are resident are read; an unreadable buffer casts no vote.
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

    /// Bytes at `gpa` if every page holding them is resident and readable.
    func read(_ gpa: UInt64, _ count: Int) -> [UInt8]? {
        guard count > 0, ram.contains(gpa, UInt64(count)) else { return nil }
        if let resident {
            var page = gpa & ~0xFFF
            while page < gpa &+ UInt64(count) {
                guard let host = memory.map.hostAddress(of: GuestPhysicalAddress(page)), resident(host & ~0xFFF, 1).first == true else { return nil }
                page &+= 0x1000
            }
        }
        return try? memory.bytes(at: GuestPhysicalAddress(gpa), count: count)
    }

    func guess(_ ring: ScannedRing) -> (name: String?, reasons: [String]) {
        let loc = ring.location
        let n = Int(loc.size)
        guard let table = read(loc.descriptors.rawValue, 16 * n),
              let avail = read(loc.driverArea.rawValue, 4 + 2 * n),
              let used = read(loc.deviceArea.rawValue, 4 + 8 * n) else { return (nil, []) }
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
            let id = Int(u32(used, 4 + 8 * slot))
            if id < n && seen.insert(id).inserted { heads.append((id, u32(used, 8 + 8 * slot))) }
        }
        let availIdx = Int(ring.availIndex)
        for j in 1...Self.recentEntries where j <= min(n, availIdx) {
            let head = Int(u16(avail, 4 + 2 * ((availIdx - j) & mask)))
            if head < n && seen.insert(head).inserted { heads.append((head, nil)) }
        }

        /// The chain from `head`, an indirect table expanded; nil when it does not hold together
        /// (a freed indirect table reused for something else).
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
                            return step == count - 1 && Int(len / 16) == count ? segments : nil
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

        let etherTypes: Set<UInt16> = [0x0800, 0x0806, 0x86DD, 0x8100, 0x88A8, 0x88CC, 0x8035]
        /// Whether `length` bytes at `address` hold a virtio-net header and an Ethernet frame.
        func looksLikeFrame(_ address: UInt64, _ length: UInt32) -> Bool {
            guard length >= 26, let b = read(address, 26) else { return false }
            // The ethertype after a 12-byte header (version 1, mergeable buffers) or a 10-byte one.
            return etherTypes.contains(UInt16(b[24]) << 8 | UInt16(b[25])) || etherTypes.contains(UInt16(b[22]) << 8 | UInt16(b[23]))
        }
        let blkTypes: Set<UInt32> = [0, 1, 4, 8, 10, 11, 13, 14, 16, 18, 20, 22, 24, 26]

        var votes: [String: Int] = [:]
        var why: [String: String] = [:]
        func vote(_ name: String, _ reason: String) {
            votes[name, default: 0] += 1
            if why[name] == nil { why[name] = reason }
        }
        var blkLikeUsedLengths = 0, usedLengths = 0
        for (head, usedLength) in heads {
            if let usedLength {
                usedLengths += 1
                if usedLength % 512 == 1 { blkLikeUsedLengths += 1 }
            }
            guard let segments = chain(head), let first = segments.first, let last = segments.last else { continue }
            let readable = segments.allSatisfy { !$0.writable }
            let writable = segments.allSatisfy { $0.writable }
            if segments.count >= 2 && !first.writable && last.writable && last.length == 1 {
                if first.length == 16 {
                    let type = read(first.address, 4).map { u32($0, 0) }
                    vote("virtio-blk", type.map { blkTypes.contains($0) ? "a blk request (type \($0)): 16-byte header, data, 1-byte status" : "a 16-byte header, data and a 1-byte status" }
                         ?? "a 16-byte header, data and a 1-byte status")
                } else if first.length == 2 {
                    vote("virtio-net-ctrl", "a 2-byte class/command, data and a 1-byte ack")
                }
            } else if readable {
                if looksLikeFrame(first.address, first.length) {
                    vote("virtio-net-tx", "readable buffers holding a virtio-net header and an Ethernet frame")
                } else if segments.count >= 2 && (first.length == 12 || first.length == 10) {
                    vote("virtio-net-tx", "a \(first.length)-byte virtio-net header before the frame")
                } else {
                    vote("virtio-console", "single readable buffers (port output or control messages)")
                }
            } else if writable {
                if segments.count == 1 {
                    if let usedLength, usedLength >= 26, looksLikeFrame(first.address, min(usedLength, first.length)) {
                        vote("virtio-net-rx", "writable buffers that received Ethernet frames")
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
        if votes.isEmpty && usedLengths > 0 && blkLikeUsedLengths == usedLengths && heads.contains(where: { ($0.usedLength ?? 0) > 1 }) {
            // The chains are gone (freed indirect tables) but the device wrote N*512 + 1 bytes:
            // sectors and a status byte.
            return ("virtio-blk", ["device wrote 512*k + 1 bytes per request (sectors and a status byte)"])
        }
        let total = votes.values.reduce(0, +)
        guard let top = votes.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }), top.value * 2 > total else {
            return (nil, votes.isEmpty ? [] : ["buffers of mixed kinds: " + votes.keys.sorted().joined(separator: ", ")])
        }
        return (top.key, ["looks like \(top.key): \(why[top.key] ?? "")"])
    }
}

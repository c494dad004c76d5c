/// One range of a QEMU flat view (`info mtree -f`): what the guest sees at these addresses.
public struct FlatRange: Hashable, Sendable {
    public var start: UInt64
    /// Last address, inclusive, as QEMU prints it.
    public var last: UInt64
    public var priority: Int
    /// `ram`, `rom`, `romd`, `i/o`...
    public var kind: String
    /// The memory region's name (`pc.ram`, `pc.bios`, `vga-lowmem`, `virtio-pci-common-virtio-blk`).
    public var name: String
    /// The offset into that region (`@0000000000100000`), 0 when QEMU prints none.
    public var regionOffset: UInt64

    public init(start: UInt64, last: UInt64, priority: Int, kind: String, name: String, regionOffset: UInt64) {
        self.start = start
        self.last = last
        self.priority = priority
        self.kind = kind
        self.name = name
        self.regionOffset = regionOffset
    }

    public var size: UInt64 { last &- start &+ 1 }
    /// Whether the range is host memory a reader can follow (RAM and ROM; ROM devices in ROM mode).
    public var isMemory: Bool { kind == "ram" || kind == "rom" || kind == "romd" }
}

/// Parses `info mtree -f` into the flat view of one address space.
public enum FlatView {
    /// The ranges of the flat view that serves address space `addressSpace` (`memory` is what
    /// devices and CPUs outside SMM see). Throws if the text has no such view.
    public static func parse(_ text: String, addressSpace: String = "memory") throws(TargetError) -> [FlatRange] {
        var ranges: [FlatRange] = []
        var inWanted = false
        var found = false
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let trimmed = line.drop(while: { $0 == " " })
            if line.hasPrefix("FlatView #") {
                if found && inWanted { break }
                inWanted = false
                continue
            }
            if trimmed.hasPrefix("AS \"") {
                let name = trimmed.dropFirst(4).prefix(while: { $0 != "\"" })
                if name == addressSpace { inWanted = true; found = true }
                continue
            }
            guard inWanted, let range = parseRange(trimmed) else { continue }
            ranges.append(range)
        }
        guard found else { throw .noSlotMap("QEMU's flat view has no address space \"\(addressSpace)\"") }
        return ranges
    }

    /// `0000000000100000-00000000bfffffff (prio 0, ram): pc.ram @0000000000100000 KVM`
    static func parseRange<S: StringProtocol>(_ line: S) -> FlatRange? {
        guard let dash = line.firstIndex(of: "-"),
              let start = UInt64(line[line.startIndex..<dash], radix: 16) else { return nil }
        let rest = line[line.index(after: dash)...]
        guard let space = rest.firstIndex(of: " "), let last = UInt64(rest[rest.startIndex..<space], radix: 16),
              last >= start,
              let open = rest.firstIndex(of: "("), let close = rest.firstIndex(of: ")"), open < close
        else { return nil }
        let attributes = rest[rest.index(after: open)..<close].split(separator: ",").map { String($0).trimmingSpaces }
        guard attributes.count >= 2, attributes[0].hasPrefix("prio "),
              let priority = Int(attributes[0].dropFirst(5)) else { return nil }
        let afterColon = rest[rest.index(after: close)...].drop(while: { $0 == ":" || $0 == " " })
        let words = afterColon.split(separator: " ")
        guard let name = words.first else { return nil }
        var offset: UInt64 = 0
        if words.count > 1, words[1].hasPrefix("@"), let o = UInt64(words[1].dropFirst(), radix: 16) { offset = o }
        return FlatRange(start: start, last: last, priority: priority, kind: attributes[1],
                         name: String(name), regionOffset: offset)
    }
}

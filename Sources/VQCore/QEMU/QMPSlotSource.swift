/// Builds a ``SlotMap`` from QEMU's own answers over QMP: the flat view of address space "memory"
/// (`info mtree -f`) says which guest ranges are memory, and `gpa2hva` says where each lives in the
/// QEMU process. Ranges that are not memory become named holes.
public enum QMPSlotSource {
    public static func slotMap(client: QMPClient) throws(TargetError) -> SlotMap {
        let text: String
        do { text = try client.humanMonitorCommand("info mtree -f") } catch {
            throw .noQMP(error.description)
        }
        let ranges = try FlatView.parse(text)
        var slots: [MemorySlot] = []
        var holes: [MemoryHole] = []
        // One gpa2hva per memory region: a region's host address is its base plus the range's
        // offset into it, so ranges of the same region (pc.ram below and above 4 GiB) share a call.
        var regionBase: [String: UInt64] = [:]
        for range in ranges {
            guard range.isMemory else {
                holes.append(MemoryHole(guest: GuestPhysicalAddress(range.start), size: range.size, name: range.name))
                continue
            }
            let base: UInt64
            if let known = regionBase[range.name] {
                base = known
            } else {
                let reply: String
                do { reply = try client.humanMonitorCommand("gpa2hva \(Hex.string(range.start))") } catch {
                    throw .noQMP(error.description)
                }
                guard let hva = parseHostAddress(reply) else {
                    holes.append(MemoryHole(guest: GuestPhysicalAddress(range.start), size: range.size, name: range.name))
                    continue
                }
                base = hva &- range.regionOffset
                regionBase[range.name] = base
            }
            let kind = MemorySlot.Kind(rawValue: range.kind) ?? .ram
            slots.append(MemorySlot(guest: GuestPhysicalAddress(range.start), size: range.size,
                                    host: base &+ range.regionOffset, name: range.name, kind: kind))
        }
        do { return try SlotMap(slots: slots, holes: holes) } catch {
            throw .noSlotMap("QEMU's flat view does not form a slot map: \(error)")
        }
    }

    /// `Host virtual address for 0x1000 (pc.ram) is 0x7f8ccbe01000` → 0x7f8ccbe01000.
    public static func parseHostAddress(_ reply: String) -> UInt64? {
        let words = reply.split(whereSeparator: \.isWhitespace)
        guard words.count >= 2, words[words.count - 2] == "is", words.last!.hasPrefix("0x") else { return nil }
        return UInt64(words.last!.dropFirst(2), radix: 16)
    }
}

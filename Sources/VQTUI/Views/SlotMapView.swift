import VQCore

/// The slot map: each guest-physical range, where it lives in the QEMU process, and its name.
enum SlotMapView {
    static func content(_ context: ViewContext) -> ViewContent {
        let map = context.slotMap
        let header = [StyledLine([
            Span("Slot map ", .title),
            Span("\(map.slots.count) slot\(map.slots.count == 1 ? "" : "s") · \(Hex.humanSize(map.totalSize)) of guest memory"),
        ])]
        let slots = map.slots
        func guestRange(_ slot: MemorySlot) -> String { "\(Hex.string(slot.guest.rawValue))-\(Hex.string(slot.guestEnd &- 1))" }
        func hostRange(_ slot: MemorySlot) -> String { "\(Hex.string(slot.host))-\(Hex.string(slot.host &+ (slot.size &- 1)))" }
        let guestWidth = max(14, slots.map { TextFormat.width(guestRange($0)) }.max() ?? 0)
        let hostWidth = max(12, slots.map { TextFormat.width(hostRange($0)) }.max() ?? 0)
        let columns = StyledLine("  " + TextFormat.pad("guest-physical", guestWidth) + "   " + TextFormat.pad("host-virtual", hostWidth)
                                 + TextFormat.lpad("size", 10) + "  name", .header)
        return ViewContent(header: header, columns: columns, count: slots.count, makeRow: { i in
            let slot = slots[i]
            var line = StyledLine()
            line.append("  ")
            line.append(guestRange(slot), width: guestWidth, .accent)
            line.append(" → ", .dim)
            line.append(hostRange(slot), width: hostWidth)
            line.appendRight(Hex.humanSize(slot.size), width: 10)
            line.append("  ")
            line.append(slot.name, .good)
            if slot.kind != .ram { line.append(" (\(slot.kind.rawValue))", .dim) }
            let buffer = BufferRef(address: slot.guest, length: slot.size, isWritable: nil, origin: .slot(slot.name), chain: nil)
            return ViewRow(line, values: [slot.guest.rawValue, slot.host, slot.size],
                           ranges: [slot.guest.rawValue..<slot.guestEnd], follow: .buffer(buffer), buffer: buffer)
        }, emptyText: "the slot map is empty")
    }
}

import VQCore

/// Which chain of the selected queue a row or a buffer belongs to.
enum ChainID: Hashable, Sendable {
    /// A chain in flight (split: its available-ring position; packed: its first ring slot).
    case live(UInt16)
    /// A completed chain (split: its used-ring position); history, possibly stale.
    case history(UInt16)

    var isLive: Bool {
        if case .live = self { return true }
        return false
    }
}

/// A guest buffer the hexdump pane can show: where it is, how long, and what it is.
struct BufferRef: Hashable, Sendable {
    /// Where the buffer came from, for the pane's title and for what survives a change of queue.
    enum Origin: Hashable, Sendable {
        /// A buffer of a descriptor or chain element of the selected queue.
        case descriptor(DescriptorPosition)
        /// An address typed at the `g` prompt.
        case address
        /// The start of a memory slot.
        case slot(String)
    }

    var address: GuestPhysicalAddress
    var length: UInt64
    /// Device-writable; `nil` when not a descriptor's buffer.
    var isWritable: Bool?
    var origin: Origin
    /// The chain the buffer belongs to, whose decoded payload the pane shows above the bytes.
    var chain: ChainID?
    /// The layout of the ring the descriptor belongs to (a packed ring's descriptors are slots).
    var layout: RingLayout = .split
    /// The descriptor names an indirect table (INDIRECT): the bytes are descriptors, which Enter
    /// opens as a table, not a buffer of data.
    var isIndirectTable = false

    /// `desc 11 of chain 10`, `entry 2 of table 0x33000`, `0x1000`.
    var title: String {
        var text: String
        switch origin {
        case .descriptor(let p):
            text = p.table.map { "entry \(p.index) of table \($0)" } ?? "\(layout == .packed ? "slot" : "desc") \(p.index)"
            if isIndirectTable { text = "indirect table of " + text }
        case .address:
            text = "address \(address)"
        case .slot(let name):
            text = "slot \(name)"
        }
        switch chain {
        case .live(let at)?: text += layout == .packed ? " · live chain at slot \(at)" : " · live chain @\(at)"
        case .history(let at)?: text += " · completed @\(at)"
        case nil: break
        }
        return text
    }
}

/// An indirect table followed into from a descriptor: where it is and how many entries it has.
struct IndirectTableRef: Hashable, Sendable {
    var address: GuestPhysicalAddress
    var entries: Int
    var layout: RingLayout
    /// The descriptor (ring slot, for packed rings) that names the table.
    var from: UInt16
}

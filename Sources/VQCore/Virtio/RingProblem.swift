/// Something wrong (against the virtio 1.2 spec, hostile, or torn by concurrent writes) that a
/// decoder found in a virtqueue. Decoding carries on past every problem it can; each one names the
/// indexes and addresses involved, has a human ``message`` and a stable short ``code`` for machine
/// output.
///
/// Chain problems carry `head`: the chain's head descriptor index (split) or first ring slot (packed).
public enum RingProblem: Sendable, Hashable, CustomStringConvertible {
    /// Which ring an out-of-range entry was found in.
    public enum Ring: String, Sendable, Hashable {
        /// The split available ring (a head index), or a packed ring's available descriptor (a buffer ID).
        case avail
        /// The split used ring (an element's id), or a packed ring's used descriptor (a buffer ID).
        case used
    }

    // MARK: Chains

    /// The chain reached the descriptor at `at` a second time: a loop (the spec forbids loops).
    case loop(head: UInt16, at: DescriptorPosition)
    /// A NEXT link (from `from`, or the head itself when `from` is nil) names an index outside its
    /// table of `count` entries.
    case nextOutOfRange(head: UInt16, from: DescriptorPosition?, next: UInt16, count: Int)
    /// An entry of an indirect table has INDIRECT set (tables do not nest); not followed.
    case nestedIndirect(head: UInt16, at: DescriptorPosition, target: GuestPhysicalAddress)
    /// A descriptor has both INDIRECT and NEXT set, which drivers must not do.
    case indirectWithNext(head: UInt16, at: DescriptorPosition)
    /// Packed rings: an INDIRECT descriptor reached through NEXT, inside a list, which the packed-ring rules forbid.
    case indirectInList(head: UInt16, at: DescriptorPosition)
    /// An indirect table's length is not a multiple of 16; only whole entries are decoded.
    case indirectLength(head: UInt16, at: DescriptorPosition, length: UInt32)
    /// An INDIRECT descriptor of length 0: an empty table.
    case indirectEmpty(head: UInt16, at: DescriptorPosition)
    /// An indirect table has more entries than `limit` (QEMU and vhost refuse more than 1024); only
    /// the first `limit` are read.
    case indirectTooLarge(head: UInt16, at: DescriptorPosition, entries: UInt32, limit: Int)
    /// An indirect table was not read: `reason` says why (a failed read, the snapshot's byte budget).
    case indirectUnread(head: UInt16, at: DescriptorPosition, table: GuestPhysicalAddress, reason: String)
    /// The buffer (or indirect table) at `address`, `length` bytes, is not all guest RAM:
    /// `firstUnmapped` is its first byte no memory slot holds.
    case addressUnmapped(head: UInt16, at: DescriptorPosition, address: GuestPhysicalAddress, length: UInt32,
                         firstUnmapped: GuestPhysicalAddress)
    /// Behind an IOMMU: the buffer (or indirect table) at I/O virtual address `iova`, `length`
    /// bytes, is not all mapped for the device in its DMA domain: `firstUnmapped` is its first
    /// I/O virtual address that is not (or that maps to something other than guest RAM), `reason`
    /// says which. Nothing is read there: the device would fault.
    case iovaUnmapped(head: UInt16, at: DescriptorPosition, iova: GuestPhysicalAddress, length: UInt32,
                      firstUnmapped: GuestPhysicalAddress, reason: String)
    /// A buffer length of 2 GiB or more (top bit set: a negative number or garbage, not a real buffer).
    case hugeLength(head: UInt16, at: DescriptorPosition, length: UInt32)
    /// A buffer of length 0 (QEMU refuses these: "zero sized buffers are not allowed").
    case zeroLength(head: UInt16, at: DescriptorPosition)
    /// A device-readable buffer after a device-writable one (drivers must put readable buffers first).
    case readableAfterWritable(head: UInt16, at: DescriptorPosition)
    /// The chain has more buffers than `limit`, the queue size (drivers must not create longer chains).
    case chainTooLong(head: UInt16, elements: Int, limit: Int)
    /// The chain's buffers add up to more than 2^32 bytes (the spec forbids it).
    case chainTooLarge(head: UInt16, bytes: UInt64)
    /// Packed rings: the descriptor at `at` has NEXT set but the next ring slot is not available.
    case chainUnterminated(head: UInt16, at: DescriptorPosition)
    /// The descriptor (or indirect table) at `at` also belongs to the in-flight chain `otherHead`;
    /// this chain stops there.
    case sharedDescriptor(head: UInt16, at: DescriptorPosition, otherHead: UInt16)
    /// Packed rings: the chain's first and last descriptors carry different buffer IDs (the spec puts
    /// the ID in the last; QEMU reads it from the first).
    case bufferIDMismatch(head: UInt16, first: UInt16, last: UInt16)

    // MARK: Rings

    /// The available index is more than the queue size ahead of the used index (or behind it).
    case availIndexJump(availIndex: UInt16, usedIndex: UInt16, size: UInt16)
    /// A ring entry names a descriptor (split head, used id) or buffer ID (packed) of `size` or more.
    case ringEntryOutOfRange(ring: Ring, position: UInt16, value: UInt32, size: UInt16)
    /// The same head (split) or buffer ID (packed) is in flight twice, at ring positions `first` and `second`.
    case duplicateBuffer(id: UInt16, first: UInt16, second: UInt16)
    /// The guest kept changing the ring while it was read: no two reads agreed in `attempts` tries.
    case torn(attempts: Int)
    /// Packed rings: the AVAIL bits change more than once around the ring, first again at `slot`.
    case wrapPattern(slot: UInt16)
    /// Packed rings: a caller's position hint cannot be right (`reason`) and was ignored.
    case badHint(name: String, index: UInt16, reason: String)
    /// Packed rings: ring slot `slot` is used although it lies between the device's used position and
    /// the driver's position, where only available descriptors belong.
    case unexpectedUsed(slot: UInt16)
    /// The queue size is not one the spec allows: split rings take a power of 2 up to 32768, packed
    /// rings any size from 1 to 32768. A size of 0 decodes nothing; other sizes are decoded anyway.
    case invalidSize(size: UInt16)

    /// A stable short code for machine output, e.g. `loop`, `next_out_of_range`.
    public var code: String {
        switch self {
        case .loop: return "loop"
        case .nextOutOfRange: return "next_out_of_range"
        case .nestedIndirect: return "nested_indirect"
        case .indirectWithNext: return "indirect_with_next"
        case .indirectInList: return "indirect_in_list"
        case .indirectLength: return "indirect_length"
        case .indirectEmpty: return "indirect_empty"
        case .indirectTooLarge: return "indirect_too_large"
        case .indirectUnread: return "indirect_unread"
        case .addressUnmapped: return "address_unmapped"
        case .iovaUnmapped: return "iova_unmapped"
        case .hugeLength: return "huge_length"
        case .zeroLength: return "zero_length"
        case .readableAfterWritable: return "readable_after_writable"
        case .chainTooLong: return "chain_too_long"
        case .chainTooLarge: return "chain_too_large"
        case .chainUnterminated: return "chain_unterminated"
        case .sharedDescriptor: return "shared_descriptor"
        case .bufferIDMismatch: return "buffer_id_mismatch"
        case .availIndexJump: return "avail_idx_jump"
        case .ringEntryOutOfRange: return "ring_entry_out_of_range"
        case .duplicateBuffer: return "duplicate_buffer"
        case .torn: return "torn"
        case .wrapPattern: return "wrap_pattern"
        case .badHint: return "bad_hint"
        case .unexpectedUsed: return "unexpected_used"
        case .invalidSize: return "invalid_size"
        }
    }

    /// Every code ``code`` can return, in declaration order.
    public static let allCodes: [String] = [
        "loop", "next_out_of_range", "nested_indirect", "indirect_with_next", "indirect_in_list", "indirect_length",
        "indirect_empty", "indirect_too_large", "indirect_unread", "address_unmapped", "iova_unmapped", "huge_length", "zero_length",
        "readable_after_writable", "chain_too_long", "chain_too_large", "chain_unterminated", "shared_descriptor",
        "buffer_id_mismatch", "avail_idx_jump", "ring_entry_out_of_range", "duplicate_buffer", "torn", "wrap_pattern",
        "bad_hint", "unexpected_used", "invalid_size",
    ]

    /// The head of the chain the problem belongs to, if it belongs to one.
    public var head: UInt16? {
        switch self {
        case let .loop(head, _), let .nextOutOfRange(head, _, _, _), let .nestedIndirect(head, _, _),
             let .indirectWithNext(head, _), let .indirectInList(head, _), let .indirectLength(head, _, _),
             let .indirectEmpty(head, _), let .indirectTooLarge(head, _, _, _), let .indirectUnread(head, _, _, _),
             let .addressUnmapped(head, _, _, _, _), let .iovaUnmapped(head, _, _, _, _, _), let .hugeLength(head, _, _), let .zeroLength(head, _),
             let .readableAfterWritable(head, _), let .chainTooLong(head, _, _), let .chainTooLarge(head, _),
             let .chainUnterminated(head, _), let .sharedDescriptor(head, _, _), let .bufferIDMismatch(head, _, _):
            return head
        case .availIndexJump, .ringEntryOutOfRange, .duplicateBuffer, .torn, .wrapPattern, .badHint, .unexpectedUsed,
             .invalidSize:
            return nil
        }
    }

    /// One sentence for people.
    public var message: String {
        switch self {
        case let .loop(head, at):
            return "chain \(head) reaches \(at) a second time: the chain loops"
        case let .nextOutOfRange(head, from, next, count):
            guard let from else { return "chain head \(head) is outside the table of \(count) descriptors" }
            return "chain \(head): \(from) links to \(next), outside its table of \(count) entries"
        case let .nestedIndirect(head, at, target):
            return "chain \(head): \(at) points at another indirect table (\(target)); indirect tables do not nest"
        case let .indirectWithNext(head, at):
            return "chain \(head): \(at) has both INDIRECT and NEXT set"
        case let .indirectInList(head, at):
            return "chain \(head): \(at) is INDIRECT but reached through NEXT, inside a list"
        case let .indirectLength(head, at, length):
            return "chain \(head): \(at) names an indirect table of \(length) bytes, not a multiple of 16"
        case let .indirectEmpty(head, at):
            return "chain \(head): \(at) names an empty indirect table (length 0)"
        case let .indirectTooLarge(head, at, entries, limit):
            return "chain \(head): \(at) names an indirect table of \(entries) entries, more than \(limit); only \(limit) were read"
        case let .indirectUnread(head, at, table, reason):
            return "chain \(head): the indirect table at \(table) named by \(at) was not read: \(reason)"
        case let .addressUnmapped(head, at, address, length, firstUnmapped):
            return "chain \(head): \(at) points at \(address) (+\(Hex.string(UInt64(length)))), and \(firstUnmapped) is not guest RAM"
        case let .iovaUnmapped(head, at, iova, length, firstUnmapped, reason):
            return "chain \(head): \(at) points at I/O virtual address \(Hex.string(iova.rawValue)) (+\(Hex.string(UInt64(length)))), "
                + "and \(Hex.string(firstUnmapped.rawValue)) has no mapping to guest RAM for the device (\(reason)); not read"
        case let .hugeLength(head, at, length):
            return "chain \(head): \(at) has a length of \(Hex.string(UInt64(length))) (\(Hex.humanSize(UInt64(length)))), too large to be a real buffer"
        case let .zeroLength(head, at):
            return "chain \(head): \(at) has length 0"
        case let .readableAfterWritable(head, at):
            return "chain \(head): \(at) is device-readable but follows a device-writable buffer"
        case let .chainTooLong(head, elements, limit):
            return "chain \(head) has \(elements) buffers, more than the queue size \(limit)"
        case let .chainTooLarge(head, bytes):
            return "chain \(head) adds up to \(bytes) bytes, more than 2^32"
        case let .chainUnterminated(head, at):
            return "chain \(head): \(at) has NEXT set but the next ring slot is not available"
        case let .sharedDescriptor(head, at, otherHead):
            if otherHead == head { return "chain \(head) uses \(at)'s indirect table twice" }
            return "chain \(head): \(at) also belongs to chain \(otherHead); the chain is cut there"
        case let .bufferIDMismatch(head, first, last):
            return "chain \(head): first descriptor has buffer ID \(first), last has \(last)"
        case let .availIndexJump(availIndex, usedIndex, size):
            return "available index \(availIndex) is \(availIndex &- usedIndex) ahead of used index \(usedIndex), more than the queue size \(size)"
        case let .ringEntryOutOfRange(ring, position, value, size):
            switch ring {
            case .avail: return "available entry at position \(position) names \(value), not below the queue size \(size)"
            case .used: return "used entry at position \(position) names \(value), not below the queue size \(size)"
            }
        case let .duplicateBuffer(id, first, second):
            return "\(id) is in flight twice, at positions \(first) and \(second)"
        case let .torn(attempts):
            return "the guest changed the ring during every one of \(attempts) reads; the snapshot may mix states"
        case let .wrapPattern(slot):
            return "the AVAIL bits change more than once around the ring (again at slot \(slot))"
        case let .badHint(name, index, reason):
            return "the \(name) hint \(index) was ignored: \(reason)"
        case let .unexpectedUsed(slot):
            return "slot \(slot) is used although it lies where only available descriptors belong"
        case let .invalidSize(size):
            return "queue size \(size) is not allowed (split rings: a power of 2 up to 32768; packed rings: 1 to 32768)"
        }
    }

    /// The ``message``.
    public var description: String { message }
}

import VQCore

/// QEMU's names for virtio feature and status bits, as `x-query-virtio-status` prints them
/// (hw/virtio/virtio-qmp.c): `"VIRTIO_RING_F_EVENT_IDX: Used & avail. event fields enabled"`.
enum VirtioFeatureNames {
    typealias Entry = (bit: UInt64, text: String)

    /// Transport features, in QEMU's table order.
    static let transports: [Entry] = [
        (24, "VIRTIO_F_NOTIFY_ON_EMPTY: Notify when device runs out of avail. descs. on VQ"),
        (27, "VIRTIO_F_ANY_LAYOUT: Device accepts arbitrary desc. layouts"),
        (32, "VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)"),
        (33, "VIRTIO_F_IOMMU_PLATFORM: Device can be used on IOMMU platform"),
        (34, "VIRTIO_F_RING_PACKED: Device supports packed VQ layout"),
        (35, "VIRTIO_F_IN_ORDER: Device uses buffers in same order as made available by driver"),
        (36, "VIRTIO_F_ORDER_PLATFORM: Memory accesses ordered by platform"),
        (37, "VIRTIO_F_SR_IOV: Device supports single root I/O virtualization"),
        (28, "VIRTIO_RING_F_INDIRECT_DESC: Indirect descriptors supported"),
        (29, "VIRTIO_RING_F_EVENT_IDX: Used & avail. event fields enabled"),
    ]

    static let net: [Entry] = [
        (0, "VIRTIO_NET_F_CSUM: Device handling packets with partial checksum supported"),
        (1, "VIRTIO_NET_F_GUEST_CSUM: Driver handling packets with partial checksum supported"),
        (2, "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS: Control channel offloading reconfig. supported"),
        (3, "VIRTIO_NET_F_MTU: Device max MTU reporting supported"),
        (5, "VIRTIO_NET_F_MAC: Device has given MAC address"),
        (7, "VIRTIO_NET_F_GUEST_TSO4: Driver can receive TSOv4"),
        (8, "VIRTIO_NET_F_GUEST_TSO6: Driver can receive TSOv6"),
        (9, "VIRTIO_NET_F_GUEST_ECN: Driver can receive TSO with ECN"),
        (10, "VIRTIO_NET_F_GUEST_UFO: Driver can receive UFO"),
        (11, "VIRTIO_NET_F_HOST_TSO4: Device can receive TSOv4"),
        (12, "VIRTIO_NET_F_HOST_TSO6: Device can receive TSOv6"),
        (13, "VIRTIO_NET_F_HOST_ECN: Device can receive TSO with ECN"),
        (14, "VIRTIO_NET_F_HOST_UFO: Device can receive UFO"),
        (15, "VIRTIO_NET_F_MRG_RXBUF: Driver can merge receive buffers"),
        (16, "VIRTIO_NET_F_STATUS: Configuration status field available"),
        (17, "VIRTIO_NET_F_CTRL_VQ: Control channel available"),
        (18, "VIRTIO_NET_F_CTRL_RX: Control channel RX mode supported"),
        (19, "VIRTIO_NET_F_CTRL_VLAN: Control channel VLAN filtering supported"),
        (20, "VIRTIO_NET_F_CTRL_RX_EXTRA: Extra RX mode control supported"),
        (21, "VIRTIO_NET_F_GUEST_ANNOUNCE: Driver sending gratuitous packets supported"),
        (22, "VIRTIO_NET_F_MQ: Multiqueue with automatic receive steering supported"),
        (23, "VIRTIO_NET_F_CTRL_MAC_ADDR: MAC address set through control channel"),
    ]

    static let block: [Entry] = [
        (1, "VIRTIO_BLK_F_SIZE_MAX: Max segment size is size_max"),
        (2, "VIRTIO_BLK_F_SEG_MAX: Max segments in a request is seg_max"),
        (4, "VIRTIO_BLK_F_GEOMETRY: Legacy geometry available"),
        (5, "VIRTIO_BLK_F_RO: Device is read-only"),
        (6, "VIRTIO_BLK_F_BLK_SIZE: Block size of disk available"),
        (10, "VIRTIO_BLK_F_TOPOLOGY: Topology information available"),
        (12, "VIRTIO_BLK_F_MQ: Multiqueue supported"),
        (13, "VIRTIO_BLK_F_DISCARD: Discard command supported"),
        (14, "VIRTIO_BLK_F_WRITE_ZEROES: Write zeroes command supported"),
        (0, "VIRTIO_BLK_F_BARRIER: Request barriers supported"),
        (7, "VIRTIO_BLK_F_SCSI: SCSI packet commands supported"),
        (9, "VIRTIO_BLK_F_FLUSH: Flush command supported"),
        (11, "VIRTIO_BLK_F_CONFIG_WCE: Cache writeback and writethrough modes supported"),
    ]

    /// virtio-rng has no device features of its own (only vhost ones).
    static let rng: [Entry] = []

    /// Device status bits, in QEMU's table order.
    static let statuses: [Entry] = [
        (4, "VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready"),
        (8, "VIRTIO_CONFIG_S_FEATURES_OK: Feature negotiation complete"),
        (2, "VIRTIO_CONFIG_S_DRIVER: Guest OS compatible with device"),
        (64, "VIRTIO_CONFIG_S_NEEDS_RESET: Irrecoverable error, device needs reset"),
        (128, "VIRTIO_CONFIG_S_FAILED: Error in guest, device failed"),
        (1, "VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found"),
    ]

    /// The device-specific table of virtio device type `deviceID`.
    static func deviceTable(_ deviceID: Int) -> [Entry] {
        switch deviceID {
        case 1: return net
        case 2: return block
        default: return rng
        }
    }

    /// `{"transports": [...], "dev-features": [...]}` for feature bits `bits`, as QEMU's
    /// qmp_decode_features builds it: each list in reverse table order (it prepends), and the bits no
    /// table names as `unknown-dev-features`.
    static func decode(_ bits: UInt64, deviceID: Int) -> JSON {
        var remaining = bits
        func names(_ table: [Entry]) -> JSON {
            var list: [JSON] = []
            for entry in table where remaining & (1 << entry.bit) != 0 {
                list.insert(.string(entry.text), at: 0)
                remaining &= ~(1 << entry.bit)
            }
            return .array(list)
        }
        var pairs: [(String, JSON)] = [("transports", names(transports)), ("dev-features", names(deviceTable(deviceID)))]
        if remaining != 0 { pairs.append(("unknown-dev-features", .uint(remaining))) }
        return .object(pairs)
    }

    /// `{"statuses": [...]}` for a status byte, as QEMU's qmp_decode_status builds it.
    static func decodeStatus(_ status: UInt8) -> JSON {
        var remaining = UInt64(status)
        var list: [JSON] = []
        for entry in statuses where remaining & entry.bit != 0 {
            list.insert(.string(entry.text), at: 0)
            remaining &= ~entry.bit
        }
        var pairs: [(String, JSON)] = [("statuses", .array(list))]
        if remaining != 0 { pairs.append(("unknown-statuses", .uint(remaining))) }
        return .object(pairs)
    }
}

extension VirtioFeatureNames {
    /// The transport feature bits QEMU names.
    static let transportMask: UInt64 = transports.reduce(0) { $0 | 1 << $1.bit }

    /// The short names of the status bits set (`VIRTIO_CONFIG_S_DRIVER_OK`), in the order
    /// `x-query-virtio-status` lists them.
    static func statusNames(_ status: UInt8) -> [String] {
        statuses.reversed().filter { UInt64(status) & $0.bit != 0 }.map { String($0.text.prefix { $0 != ":" }) }
    }
}

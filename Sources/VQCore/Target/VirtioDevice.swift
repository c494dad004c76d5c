/// Where vqscope learned of a device or a queue.
public enum QueueOrigin: Sendable, Hashable {
    /// QEMU said so over QMP: the device has a QOM path, a type and features.
    case qmp
    /// A RAM scan found the rings: no QOM path, the device a guess from what the rings carry.
    case scan
}

/// A virtio device of a QEMU process and its queues, as QEMU reports them over QMP (or a
/// pseudo-device grouping rings a RAM scan found).
public struct VirtioDevice: Sendable, Hashable {
    /// QEMU's device name (`virtio-blk`, `virtio-net`...).
    public var name: String
    /// The QOM path of the device's virtio backend (empty for a scan's pseudo-device).
    public var path: String
    /// Whether QMP reported the device or a scan grouped its rings.
    public var origin: QueueOrigin
    /// The device's `id=` on the command line, when it has one (from the QOM path).
    public var id: String?
    /// The PCI address (`00:04.0`) of a virtio-pci device, when QEMU says it.
    public var pciAddress: String?
    /// The virtio device type (1 net, 2 blk, 3 console, 4 rng...).
    public var deviceID: Int
    /// The features the driver accepted.
    public var features: VirtioFeatures
    /// The device status bits the driver set, by name (`DRIVER_OK`...).
    public var status: [String]
    /// Who serves the device's queues: QEMU itself, or a vhost back-end.
    public var backend: VirtioBackend
    /// Whether QEMU has handed the queues to that vhost back-end (`vhost-started`): then QEMU's own
    /// queue state is stale and asking for it would stop a vhost-user back-end's ring.
    public var vhostStarted: Bool
    public var queues: [Virtqueue]

    public init(name: String, path: String, id: String? = nil, pciAddress: String? = nil, deviceID: Int,
                features: VirtioFeatures, status: [String] = [], backend: VirtioBackend = .qemu, vhostStarted: Bool = false,
                queues: [Virtqueue] = [], origin: QueueOrigin = .qmp) {
        self.name = name
        self.path = path
        self.origin = origin
        self.id = id
        self.pciAddress = pciAddress
        self.deviceID = deviceID
        self.features = features
        self.status = status
        self.backend = backend
        self.vhostStarted = vhostStarted
        self.queues = queues
    }

    /// The device named apart from others of the same name: `virtio-input[kbd0]` by its `id=`,
    /// else `virtio-input@00:05.0` by its PCI address, else `virtio-input[QOM path]`. `--queue`
    /// accepts it (``QueueSelector``).
    public var qualifiedName: String {
        if let id { return "\(name)[\(id)]" }
        if let pciAddress { return "\(name)@\(pciAddress)" }
        return "\(name)[\(path)]"
    }

    /// `devices` with each queue of a device whose name another device shares labelled by the
    /// device's ``qualifiedName`` (``Virtqueue/deviceLabel``); queues of uniquely named devices keep
    /// the bare name.
    public static func labellingRepeatedNames(_ devices: [VirtioDevice]) -> [VirtioDevice] {
        var counts: [String: Int] = [:]
        for d in devices { counts[d.name, default: 0] += 1 }
        return devices.map { d in
            var d = d
            let label = (counts[d.name] ?? 0) > 1 ? d.qualifiedName : nil
            for k in d.queues.indices { d.queues[k].deviceLabel = label }
            return d
        }
    }
}

/// Who processes a virtio device's queues.
public enum VirtioBackend: String, Sendable, Hashable, CaseIterable {
    /// QEMU's own device model (its indexes are live).
    case qemu
    /// A vhost back-end in the host kernel (vhost-net, vhost-scsi, vhost-vsock).
    case vhostKernel = "vhost-kernel"
    /// A vhost-user back-end process (qemu-storage-daemon, SPDK, DPDK, virtiofsd).
    case vhostUser = "vhost-user"

    /// Whether a vhost back-end, not QEMU, serves the rings.
    public var isVhost: Bool { self != .qemu }
}

/// Where QEMU's vhost code maps a vhost queue's rings in its own address space
/// (`x-query-virtio-vhost-queue-status`: desc, avail, used), beside the ring addresses it gave the back-end.
public struct VhostRingMapping: Sendable, Hashable {
    /// QEMU's virtual addresses of the descriptor table, driver area and device area.
    public var descriptors: UInt64
    public var driverArea: UInt64
    public var deviceArea: UInt64

    public init(descriptors: UInt64, driverArea: UInt64, deviceArea: UInt64) {
        self.descriptors = descriptors
        self.driverArea = driverArea
        self.deviceArea = deviceArea
    }
}

/// One virtqueue: its device, index, where its rings live, and the device's own view of it
/// (from QMP) when there is one.
public struct Virtqueue: Sendable, Hashable {
    public var device: String
    /// The device's QOM path (empty for a ring a scan found; see ``origin``).
    public var path: String
    public var index: Int
    /// Whether QMP reported the queue or a RAM scan found its rings.
    public var origin: QueueOrigin
    public var location: VirtqueueLocation
    /// What QEMU's device model says of the queue, when QMP was asked (never for a vhost queue:
    /// QEMU's indexes are stale there, and asking would stop a vhost-user back-end's ring).
    public var deviceState: DeviceQueueState?
    /// Who serves the queue.
    public var backend: VirtioBackend
    /// For a queue a vhost back-end serves: where QEMU maps its rings.
    public var vhostMapping: VhostRingMapping?
    /// The device as shown when another device has the same name (`virtio-input[kbd0]`,
    /// ``VirtioDevice/qualifiedName``); `nil` when ``device`` alone names it.
    public var deviceLabel: String?

    public init(device: String, path: String, index: Int, location: VirtqueueLocation, deviceState: DeviceQueueState? = nil,
                backend: VirtioBackend = .qemu, vhostMapping: VhostRingMapping? = nil, origin: QueueOrigin = .qmp) {
        self.device = device
        self.path = path
        self.origin = origin
        self.index = index
        self.location = location
        self.deviceState = deviceState
        self.backend = backend
        self.vhostMapping = vhostMapping
    }

    /// The device as shown: ``deviceLabel``, else the device name.
    public var shownDevice: String { deviceLabel ?? device }

    /// `virtio-blk:0`; `virtio-input[kbd0]:0` when another device is called `virtio-input` too.
    public var label: String { "\(shownDevice):\(index)" }
}

/// QEMU's device-side indexes of a queue (x-query-virtio-queue-status).
public struct DeviceQueueState: Sendable, Hashable {
    /// The next avail ring entry the device will fetch.
    public var lastAvailIndex: UInt16
    /// The avail index the device last read from the ring.
    public var shadowAvailIndex: UInt16
    /// The used index the device will write next.
    public var usedIndex: UInt16
    /// Buffers the device has fetched and not yet returned.
    public var inUse: Int

    public init(lastAvailIndex: UInt16, shadowAvailIndex: UInt16, usedIndex: UInt16, inUse: Int) {
        self.lastAvailIndex = lastAvailIndex
        self.shadowAvailIndex = shadowAvailIndex
        self.usedIndex = usedIndex
        self.inUse = inUse
    }
}

/// Which queue a user means by `--queue DEVICE:INDEX`: DEVICE is a device name, its `id=`, its QOM
/// path or its PCI address; INDEX a queue number.
public struct QueueSelector: Sendable, Hashable, CustomStringConvertible {
    public var device: String
    public var index: Int

    /// Parses `virtio-blk:0`, `/machine/peripheral/vser0/virtio-backend:3`, `00:04.0:1`,
    /// `virtio-input[kbd0]:0`, `virtio-input@00:05.0:0`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let index = Int(text[text.index(after: colon)...]), index >= 0,
              colon != text.startIndex else { return nil }
        device = String(text[..<colon])
        self.index = index
    }

    public init(device: String, index: Int) {
        self.device = device
        self.index = index
    }

    public var description: String { "\(device):\(index)" }

    /// The one queue of `devices` this selector names; throws when none or several match.
    public func select(from devices: [VirtioDevice]) throws(TargetError) -> Virtqueue {
        let matches = devices.filter { d in
            d.name == device || d.path == device || d.id == device || d.pciAddress == device
                || d.pciAddress.map { "0000:" + $0 } == device || d.qualifiedName == device
                || d.id.map { "\(d.name)[\($0)]" } == device || d.pciAddress.map { "\(d.name)@\($0)" } == device
        }
        guard !matches.isEmpty else {
            let names = devices.map(\.name).joined(separator: ", ")
            throw .usage("no virtio device '\(device)' (devices: \(names.isEmpty ? "none" : names))")
        }
        guard matches.count == 1 else {
            let which = matches.map(\.qualifiedName).joined(separator: ", ")
            throw .usage("\(matches.count) devices are called '\(device)': name one by id, PCI address or QOM path (\(which))")
        }
        guard let queue = matches[0].queues.first(where: { $0.index == index }) else {
            let indexes = matches[0].queues.map { String($0.index) }.joined(separator: ", ")
            throw .usage("\(matches[0].name) has no active queue \(index) (active: \(indexes.isEmpty ? "none" : indexes))")
        }
        return queue
    }
}

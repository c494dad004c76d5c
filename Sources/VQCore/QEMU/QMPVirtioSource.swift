/// Finds a QEMU process's virtio devices and queues through QMP (QEMU 7.2+):
/// `x-query-virtio`, `x-query-virtio-status`, `x-query-virtio-queue-status`, and `qom-get` for PCI
/// addresses. Only queues a driver has set up (a non-zero descriptor address) are listed; a device
/// or queue whose answer cannot be used (a queue size virtio does not allow, a reply of the wrong
/// shape) is left out and said in ``Inventory/notes``, not dropped silently.
public enum QMPVirtioSource {
    /// What QEMU's answers gave: the devices and the queues vqscope can use, and what it left out.
    public struct Inventory: Sendable, Hashable {
        /// The devices in PCI order, each with its usable active queues.
        public var devices: [VirtioDevice]
        /// The devices and queues QEMU answered for in a way that cannot be used, in the devices' order.
        public var notes: [Note]

        /// An inventory from its parts.
        public init(devices: [VirtioDevice], notes: [Note] = []) {
            self.devices = devices
            self.notes = notes
        }

        /// The notes on queue `index` of the device `name`d, or on that whole device: why it is not listed.
        public func notes(device name: String, queue index: Int) -> [Note] {
            notes.filter { $0.device == name && ($0.queue == nil || $0.queue == index) }
        }
    }

    /// A device or queue left out of the list, and QEMU's answer that made it unusable.
    public struct Note: Sendable, Hashable, CustomStringConvertible {
        /// QEMU's device name (`virtio-blk`), `?` when its entry had none.
        public var device: String
        /// The QOM path of the device's virtio backend ("" when its entry had none).
        public var path: String
        /// The queue left out; nil when the device's own answer was unusable (its queues unknown).
        public var queue: Int?
        /// QEMU's answer, and why vqscope cannot use it (`x-query-virtio-queue-status gives size 0...`).
        public var reason: String

        /// A note from its parts.
        public init(device: String, path: String, queue: Int?, reason: String) {
            self.device = device
            self.path = path
            self.queue = queue
            self.reason = reason
        }

        /// `virtio-blk:0`, or `virtio-blk` for the whole device.
        public var label: String { queue.map { "\(device):\($0)" } ?? device }

        /// `virtio-blk:0 left out: x-query-virtio-queue-status gives size 0, ...`.
        public var description: String { "\(label) left out: \(reason)" }
    }

    /// The largest queue count QEMU gives a device (its `VIRTIO_QUEUE_MAX`); more are not asked.
    public static let maxQueues = 1024

    /// The devices and their usable active queues (``inventory(client:)`` without its notes).
    public static func devices(client: QMPClient) throws(QMPError) -> [VirtioDevice] {
        try inventory(client: client).devices
    }

    /// The devices and their usable active queues, with a note for each device or queue whose
    /// answer could not be used. A QMP failure (an error reply, a time-out) throws.
    public static func inventory(client: QMPClient) throws(QMPError) -> Inventory {
        let list = try client.execute("x-query-virtio")
        guard let entries = list.array else { throw .garbage(path: client.path, reason: "x-query-virtio did not return a list") }
        var devices: [VirtioDevice] = []
        var notes: [Note] = []
        for entry in entries {
            guard let name = entry["name"]?.string, let path = entry["path"]?.string else {
                notes.append(Note(device: entry["name"]?.string ?? "?", path: entry["path"]?.string ?? "", queue: nil,
                                  reason: "x-query-virtio lists it without a name and a QOM path: \(entry.text.prefix(120))"))
                continue
            }
            let status = try client.execute("x-query-virtio-status", arguments: .object([("path", .string(path))]))
            guard case .object = status else {
                notes.append(Note(device: name, path: path, queue: nil,
                                  reason: "x-query-virtio-status did not return an object (\(status.text.prefix(60))), so its queues are unknown"))
                devices.append(VirtioDevice(name: name, path: path, id: qomID(path), pciAddress: pciAddress(client: client, path: path),
                                            deviceID: 0, features: []))
                continue
            }
            let features = parseFeatures(status["guest-features"])
            let vhostStarted = status["vhost-started"]?.bool ?? false
            let backend = backend(client: client, path: path, status: status)
            var device = VirtioDevice(
                name: name, path: path, id: qomID(path), pciAddress: pciAddress(client: client, path: path),
                deviceID: status["device-id"]?.int ?? 0, features: features,
                status: (status["status"]?["statuses"]?.array ?? []).compactMap { $0.string.map(shortName) },
                backend: backend, vhostStarted: vhostStarted)
            let count: Int
            switch status["num-vqs"]?.int {
            case let n? where n >= 0 && n <= maxQueues:
                count = n
            case let n?:
                notes.append(Note(device: name, path: path, queue: nil,
                                  reason: "x-query-virtio-status gives num-vqs \(n), outside QEMU's 0 to \(maxQueues)"
                                      + (n > maxQueues ? ": only the first \(maxQueues) queues are asked" : ", so its queues are unknown")))
                count = max(0, min(n, maxQueues))
            case nil:
                notes.append(Note(device: name, path: path, queue: nil,
                                  reason: "x-query-virtio-status gives no queue count (num-vqs), so its queues are unknown"))
                count = 0
            }
            let layout: RingLayout = features.contains(.packedRing) ? .packed : .split
            // The vhost back-end's queues: [vq-index, vq-index + nvqs) of the vhost_dev QEMU reports.
            let vhostQueues: Range<Int>? = vhostStarted
                ? (status["vhost-dev"]?["vq-index"]?.int ?? 0)..<((status["vhost-dev"]?["vq-index"]?.int ?? 0) + (status["vhost-dev"]?["nvqs"]?.int ?? 0))
                : nil
            for index in 0..<count {
                let answer: QueueAnswer
                let q: JSON
                var mapping: VhostRingMapping?
                if let vhostQueues {
                    guard vhostQueues.contains(index) else {
                        notes.append(Note(device: name, path: path, queue: index,
                                          reason: "its vhost is started and this queue is not one of the vhost device's (\(vhostQueues.lowerBound) to \(vhostQueues.upperBound - 1)): "
                                              + "x-query-virtio-queue-status is not sent to a device whose vhost is started, so its ring is not known"))
                        continue
                    }
                    do {
                        q = try client.execute("x-query-virtio-vhost-queue-status", arguments: .object([("path", .string(path)), ("queue", .int(Int64(index)))]))
                    } catch .commandFailed(_, _, let description) {
                        notes.append(Note(device: name, path: path, queue: index, reason: "x-query-virtio-vhost-queue-status failed: \(description)"))
                        continue
                    }
                    answer = queueAnswer(q, .vhost)
                    if case .usable = answer {
                        mapping = VhostRingMapping(descriptors: q["desc"]?.uint64 ?? 0, driverArea: q["avail"]?.uint64 ?? 0,
                                                   deviceArea: q["used"]?.uint64 ?? 0)
                    }
                } else {
                    // QEMU's queue state only right after its own status said the vhost is stopped.
                    guard try client.vhostStoppedNow(path: path) else {
                        notes.append(Note(device: name, path: path, queue: index,
                                          reason: "its vhost started while its queues were listed; run the command again"))
                        break
                    }
                    q = try client.execute("x-query-virtio-queue-status", arguments: .object([("path", .string(path)), ("queue", .int(Int64(index)))]))
                    answer = queueAnswer(q)
                }
                switch answer {
                case .inactive:
                    continue
                case .unusable(let reason):
                    notes.append(Note(device: name, path: path, queue: index, reason: reason))
                    continue
                case .usable(let desc, let num):
                    let (driver, device_) = vhostQueues == nil
                        ? (q["vring-avail"]?.uint64 ?? 0, q["vring-used"]?.uint64 ?? 0)
                        : (q["avail-phys"]?.uint64 ?? 0, q["used-phys"]?.uint64 ?? 0)
                    let location = VirtqueueLocation(
                        layout: layout, size: num, descriptors: GuestPhysicalAddress(desc),
                        driverArea: GuestPhysicalAddress(driver), deviceArea: GuestPhysicalAddress(device_),
                        features: features)
                    device.queues.append(Virtqueue(device: name, path: path, index: index, location: location,
                                                   deviceState: vhostQueues == nil ? QMPQueueStatus.deviceState(from: q) : nil,
                                                   backend: backend, vhostMapping: mapping))
                }
            }
            devices.append(device)
        }
        // QEMU lists devices newest first; PCI order reads better, for the notes too (a device's
        // notes in queue order, those on entries without a path last).
        devices.sort { ($0.pciAddress ?? $0.path) < ($1.pciAddress ?? $1.path) }
        let rank = Dictionary(devices.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
        let ordered = notes.enumerated().sorted { a, b in
            let (ra, rb) = (rank[a.element.path] ?? devices.count, rank[b.element.path] ?? devices.count)
            return ra != rb ? ra < rb : a.offset < b.offset
        }.map(\.element)
        return Inventory(devices: devices, notes: ordered)
    }

    /// What one `x-query-virtio-queue-status` reply says of its queue.
    enum QueueAnswer: Equatable {
        /// No ring: the driver has not set the queue up (descriptor address 0).
        case inactive
        /// A ring at `desc` of `num` entries.
        case usable(desc: UInt64, num: UInt16)
        /// A ring vqscope cannot take, and why (QEMU's answer named).
        case unusable(String)
    }

    /// Who serves the device at `path`: its virtio backend's QOM type names a vhost-user or vhost
    /// device (`vhost-user-blk`, `vhost-vsock-device`); a started vhost that negotiated vhost-user
    /// protocol features is vhost-user (a virtio-net on a vhost-user netdev), any other started vhost
    /// the kernel's.
    static func backend(client: QMPClient, path: String, status: JSON) -> VirtioBackend {
        let type = (try? client.execute("qom-get", arguments: .object([("path", .string(path)), ("property", .string("type"))])))?.string ?? ""
        if type.hasPrefix("vhost-user") { return .vhostUser }
        if type.hasPrefix("vhost-") { return .vhostKernel }
        guard status["vhost-started"]?.bool ?? false else { return .qemu }
        let protocols = status["vhost-dev"]?["protocol-features"]
        let named = protocols?["protocols"]?.array ?? []
        if !named.isEmpty || (protocols?["unknown-protocols"]?.uint64 ?? 0) != 0 || (protocols?.uint64 ?? 0) != 0 { return .vhostUser }
        return .vhostKernel
    }

    /// The fields of a queue-status reply that give the ring's descriptor address and size:
    /// QEMU's own (`x-query-virtio-queue-status`) or its vhost state's (`x-query-virtio-vhost-queue-status`).
    struct QueueReply {
        var command: String
        var descriptors: String
        var size: String

        static let qemu = QueueReply(command: "x-query-virtio-queue-status", descriptors: "vring-desc", size: "vring-num")
        static let vhost = QueueReply(command: "x-query-virtio-vhost-queue-status", descriptors: "desc-phys", size: "num")
    }

    /// Judges one queue-status reply: a queue is listed only with a descriptor address and a size
    /// virtio allows (1 to 32768).
    static func queueAnswer(_ q: JSON, _ reply: QueueReply = .qemu) -> QueueAnswer {
        guard case .object = q else {
            return .unusable("\(reply.command) did not return an object (\(q.text.prefix(60)))")
        }
        guard let desc = q[reply.descriptors]?.uint64 else {
            return .unusable("\(reply.command) gives no ring address (\(reply.descriptors): \(q[reply.descriptors]?.text ?? "missing"))")
        }
        if desc == 0 { return .inactive }
        guard let num = q[reply.size]?.uint64 else {
            return .unusable("\(reply.command) gives no queue size (\(reply.size): \(q[reply.size]?.text ?? "missing"))")
        }
        guard num > 0, num <= 32768 else {
            return .unusable("\(reply.command) gives size \(num), which virtio does not allow (1 to 32768)")
        }
        return .usable(desc: desc, num: UInt16(num))
    }

    /// Feature bits from QEMU's named lists (`"VIRTIO_RING_F_EVENT_IDX: Used & avail..."`).
    public static func parseFeatures(_ value: JSON?) -> VirtioFeatures {
        var features = VirtioFeatures()
        for entry in value?["transports"]?.array ?? [] {
            guard let text = entry.string else { continue }
            let name = shortName(text)
            if let bit = transportBits[name] { features.insert(VirtioFeatures(rawValue: 1 << bit)) }
        }
        for entry in value?["dev-features"]?.array ?? [] {
            guard let text = entry.string, let bit = deviceBits[shortName(text)] else { continue }
            features.insert(VirtioFeatures(rawValue: 1 << bit))
        }
        return features
    }

    /// The device-type feature bits vqscope reads by name (their names carry the device type).
    /// Balloon bits as in Linux's and QEMU's `include/standard-headers/linux/virtio_balloon.h`
    /// (they decide which of its optional queues exist, so how its queues are numbered); SCSI's
    /// T10_PI as in `virtio_scsi.h` (it lengthens every request header).
    static let deviceBits: [String: UInt64] = [
        "VIRTIO_NET_F_MRG_RXBUF": 15, "VIRTIO_NET_F_CTRL_VQ": 17, "VIRTIO_NET_F_HASH_REPORT": 57,
        "VIRTIO_BALLOON_F_STATS_VQ": 1, "VIRTIO_BALLOON_F_FREE_PAGE_HINT": 3, "VIRTIO_BALLOON_F_REPORTING": 5,
        "VIRTIO_SCSI_F_T10_PI": 3,
    ]

    static let transportBits: [String: UInt64] = [
        "VIRTIO_F_NOTIFY_ON_EMPTY": 24, "VIRTIO_F_ANY_LAYOUT": 27, "VIRTIO_RING_F_INDIRECT_DESC": 28,
        "VIRTIO_RING_F_EVENT_IDX": 29, "VIRTIO_F_VERSION_1": 32, "VIRTIO_F_IOMMU_PLATFORM": 33,
        "VIRTIO_F_RING_PACKED": 34, "VIRTIO_F_IN_ORDER": 35, "VIRTIO_F_ORDER_PLATFORM": 36,
        "VIRTIO_F_SR_IOV": 37, "VIRTIO_F_NOTIFICATION_DATA": 38, "VIRTIO_F_RING_RESET": 40,
    ]

    /// `VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready` → `VIRTIO_CONFIG_S_DRIVER_OK`.
    static func shortName(_ text: String) -> String {
        String(text.prefix(while: { $0 != ":" }))
    }

    /// `/machine/peripheral/vser0/virtio-backend` → `vser0` (anonymous devices have none).
    static func qomID(_ path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 3] == "peripheral" else { return nil }
        return String(parts[parts.count - 2])
    }

    /// The QOM path of the bus the proxy device holding this backend sits on (`qom-get ...
    /// parent_bus`): `/machine/q35/pcie.0` on q35's root bus, a bridge's bus behind one.
    public static func parentBus(client: QMPClient, path: String) -> String? {
        guard path.hasSuffix("/virtio-backend") else { return nil }
        let proxy = String(path.dropLast("/virtio-backend".count))
        return (try? client.execute("qom-get", arguments: .object([("path", .string(proxy)), ("property", .string("parent_bus"))])))?.string
    }

    /// Whether a bus QOM path (``parentBus(client:path:)``) is a machine's root PCI bus
    /// (`/machine/q35/pcie.0`, `/machine/i440fx/pci.0`): one owned by the machine's host bridge,
    /// not by a device (a bridge, a root port, an expander under `peripheral`).
    public static func isRootBus(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        return parts.count == 3 && parts[0] == "machine" && !["peripheral", "peripheral-anon", "unattached"].contains(parts[1])
    }

    /// The PCI slot of the proxy device that holds this backend (`qom-get ... addr`), as `00:04.0`.
    static func pciAddress(client: QMPClient, path: String) -> String? {
        guard path.hasSuffix("/virtio-backend") else { return nil }
        let proxy = String(path.dropLast("/virtio-backend".count))
        guard let value = try? client.execute("qom-get", arguments: .object([("path", .string(proxy)), ("property", .string("addr"))])),
              let devfn = value.int ?? value.string.flatMap({ Int($0) }), devfn >= 0 else { return nil }
        let slot = String(devfn >> 3, radix: 16), function = devfn & 7
        return "00:" + String(repeating: "0", count: max(0, 2 - slot.count)) + slot + ".\(function)"
    }
}

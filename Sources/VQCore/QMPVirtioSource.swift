/// Finds a QEMU process's virtio devices and queues through QMP (QEMU 7.2+):
/// `x-query-virtio`, `x-query-virtio-status`, `x-query-virtio-queue-status`, and `qom-get` for PCI
/// addresses. Only queues a driver has set up (a non-zero descriptor address) are listed.
public enum QMPVirtioSource {
    public static func devices(client: QMPClient) throws(QMPError) -> [VirtioDevice] {
        let list = try client.execute("x-query-virtio")
        guard let entries = list.array else { throw .garbage(path: client.path, reason: "x-query-virtio did not return a list") }
        var devices: [VirtioDevice] = []
        for entry in entries {
            guard let name = entry["name"]?.string, let path = entry["path"]?.string else { continue }
            let status = try client.execute("x-query-virtio-status", arguments: .object([("path", .string(path))]))
            let features = parseFeatures(status["guest-features"])
            var device = VirtioDevice(
                name: name, path: path, id: qomID(path), pciAddress: pciAddress(client: client, path: path),
                deviceID: status["device-id"]?.int ?? 0, features: features,
                status: (status["status"]?["statuses"]?.array ?? []).compactMap { $0.string.map(shortName) })
            let count = status["num-vqs"]?.int ?? 0
            let layout: RingLayout = features.contains(.packedRing) ? .packed : .split
            for index in 0..<min(count, 1024) {
                let q = try client.execute("x-query-virtio-queue-status", arguments: .object([("path", .string(path)), ("queue", .int(Int64(index)))]))
                guard let desc = q["vring-desc"]?.uint64, desc != 0, let num = q["vring-num"]?.uint64, num > 0, num <= 32768 else { continue }
                let location = VirtqueueLocation(
                    layout: layout, size: UInt16(num), descriptors: GuestPhysicalAddress(desc),
                    driverArea: GuestPhysicalAddress(q["vring-avail"]?.uint64 ?? 0), deviceArea: GuestPhysicalAddress(q["vring-used"]?.uint64 ?? 0),
                    features: features)
                device.queues.append(Virtqueue(device: name, path: path, index: index, location: location,
                                               deviceState: QMPQueueStatus.deviceState(from: q)))
            }
            devices.append(device)
        }
        // QEMU lists devices newest first; PCI order reads better.
        return devices.sorted { ($0.pciAddress ?? $0.path) < ($1.pciAddress ?? $1.path) }
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
    static let deviceBits: [String: UInt64] = [
        "VIRTIO_NET_F_MRG_RXBUF": 15, "VIRTIO_NET_F_CTRL_VQ": 17, "VIRTIO_NET_F_HASH_REPORT": 57,
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

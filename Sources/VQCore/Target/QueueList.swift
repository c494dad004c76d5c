/// The virtqueues of a target and where the list came from: QEMU's own (QMP), or, without QMP, the
/// rings a RAM scan finds, grouped into one pseudo-device per guess (`virtio-blk`,
/// `virtio-net-rx`..., `unknown` when the contents say nothing clear) with queues numbered in
/// guest-physical order, so that `virtio-blk:0` names the first ring guessed virtio-blk. Rings a
/// live target's scan judges stale (``RingLiveness``) come last, under `stale-` names
/// (`stale-virtio-blk:0`).
///
/// Every command that lists or picks queues and the inspector take their queues from here, so a
/// queue has the same name, and its payloads the same decoding, everywhere.
public struct QueueList: Sendable {
    /// Where the list came from.
    public enum Source: String, Sendable {
        /// QEMU's device models, over QMP.
        case qmp
        /// A RAM scan (``RingScanner``): split and page-aligned packed rings, devices guessed.
        case scan
    }

    /// Why the list could not be had.
    public enum LoadError: Error, Equatable, Sendable, CustomStringConvertible {
        /// The target would not say (QMP failed, or a live process's page map cannot be read).
        case target(TargetError)
        /// The RAM scan failed (the process exited, or its memory cannot be read).
        case scan(MemoryError)

        public var description: String {
            switch self {
            case .target(let error): return error.description
            case .scan(let error): return "the RAM scan for virtqueues failed: \(error)"
            }
        }
    }

    /// The pseudo-device of scanned rings whose contents say nothing clear.
    public static let unknownDevice = "unknown"

    /// What starts the name of a stale scanned ring's pseudo-device (``ScannedRing/deviceName``):
    /// `stale-virtio-blk`, `stale-unknown`.
    public static let stalePrefix = "stale-"

    /// Where the list came from.
    public var source: Source
    /// The devices, each with its queues (for a scan: one pseudo-device per guess, in order of
    /// first appearance, with an empty QOM path and no features).
    public var devices: [VirtioDevice]
    /// Scanned queues' evidence, by descriptor table address (empty for QMP).
    public var scanned: [GuestPhysicalAddress: ScannedRing]
    /// Why there was no QMP (for a scan).
    public var note: String?

    /// A list from its parts.
    public init(source: Source, devices: [VirtioDevice], scanned: [GuestPhysicalAddress: ScannedRing] = [:], note: String? = nil) {
        self.source = source
        self.devices = VirtioDevice.labellingRepeatedNames(devices)
        self.scanned = scanned
        self.note = note
    }

    /// Every queue, device by device.
    public var queues: [Virtqueue] { devices.flatMap(\.queues) }

    /// QMP's list when the target has a QMP connection, else a RAM scan's.
    /// - Parameter progress: told how far the RAM scan has got (not called when QMP answers).
    public static func load(_ target: Target, progress: RingScanner.Progress? = nil) throws(LoadError) -> QueueList {
        if target.qmp != nil {
            do { return QueueList(source: .qmp, devices: try target.virtioDevices()) } catch { throw .target(error) }
        }
        let resident: (@Sendable (UInt64, Int) -> [Bool])?
        do { resident = try target.process.map { (process) throws(TargetError) in try RingScanner.residentPages(pid: process.pid) } } catch {
            throw .target(error)
        }
        let result: RingScanResult
        do { result = try RingScanner.scan(memory: target.memory, residentPages: resident, progress: progress) } catch { throw .scan(error) }
        let rings = RingScanner.withDeviceAreas(result.rings, of: target, resident: resident)
        return scanned(rings, note: target.imagePath != nil ? "an image has no QMP" : target.notes.first ?? "--no-qmp")
    }

    /// The list for scanned rings: one pseudo-device per guess, in order of first appearance; a
    /// stale ring's is its own (``ScannedRing/deviceName``: `stale-virtio-blk`), so that a live
    /// ring keeps its device's name and index whatever stale rings lie before it.
    public static func scanned(_ rings: [ScannedRing], note: String?) -> QueueList {
        var devices: [VirtioDevice] = []
        var byDescriptor: [GuestPhysicalAddress: ScannedRing] = [:]
        for ring in RingLiveness.rankLiveFirst(rings) {
            let name = ring.deviceName
            let d: Int
            if let found = devices.firstIndex(where: { $0.name == name }) {
                d = found
            } else {
                d = devices.count
                devices.append(VirtioDevice(name: name, path: "", deviceID: 0, features: [], origin: .scan))
            }
            devices[d].queues.append(Virtqueue(device: name, path: "", index: devices[d].queues.count, location: ring.location, origin: .scan))
            byDescriptor[ring.location.descriptors] = ring
        }
        return QueueList(source: .scan, devices: devices, scanned: byDescriptor, note: note)
    }

    /// The device a queue belongs to: by QOM path (QMP), by name (a scan's pseudo-devices).
    public func device(of q: Virtqueue) -> VirtioDevice? {
        source == .qmp ? devices.first { $0.path == q.path } : devices.first { $0.name == q.device }
    }

    /// The QOM path (QMP only; nil for scanned queues).
    public func path(of q: Virtqueue) -> String? { q.origin == .scan ? nil : q.path }

    /// How payloads of `q` are decoded. A scan's guess names the queue's role (`virtio-net-rx`),
    /// which maps onto the device's queue numbering; rings of no known role are not decoded.
    public func payloadRole(of q: Virtqueue) -> PayloadRole? {
        guard source == .scan else {
            return PayloadRole(device: q.device, queueIndex: q.index, queueCount: device(of: q)?.queues.count ?? 1,
                               features: q.location.features)
        }
        // A scan does not see the negotiated features: VIRTIO_F_VERSION_1 is assumed (12-byte
        // virtio-net headers), what a current driver negotiates with QEMU's modern devices. A
        // stale ring's buffers are decoded as its guess says.
        let stale = q.device.hasPrefix(Self.stalePrefix)
        let guess = stale ? String(q.device.dropFirst(Self.stalePrefix.count)) : q.device
        switch guess {
        case "virtio-net-rx": return PayloadRole(device: "virtio-net", queueIndex: 0, queueCount: 2, features: [.version1])
        case "virtio-net-tx": return PayloadRole(device: "virtio-net", queueIndex: 1, queueCount: 2, features: [.version1])
        case "virtio-blk", "virtio-rng":
            return PayloadRole(device: guess, queueIndex: q.index, queueCount: device(of: q)?.queues.count ?? 1, features: [.version1])
        case "virtio-console":
            // A scan numbers its rings, not the device's queues: decode them all as port data.
            return PayloadRole(device: guess, queueIndex: 0, queueCount: 1, features: [.version1])
        case "virtio-console-control":
            // Control messages, whichever way: read as the driver's (queue 3) until used.
            return PayloadRole(device: "virtio-console", queueIndex: 3, queueCount: 4, features: [.version1])
        case "virtio-scsi":
            // A request queue (queues 2 on; 0 and 1 are control and events).
            return PayloadRole(device: guess, queueIndex: 2, queueCount: 3, features: [.version1])
        case "virtio-9p", "virtio-input":
            return PayloadRole(device: guess, queueIndex: 0, queueCount: 1, features: [.version1])
        case "virtio-balloon-stats":
            return PayloadRole(device: "virtio-balloon", queueIndex: 2, queueCount: 3, features: [.version1, .balloonStatistics])
        case "virtio-balloon":
            return PayloadRole(device: guess, queueIndex: 0, queueCount: 2, features: [.version1])
        default: return nil
        }
    }
}

/// What ``PayloadDecoder`` needs to know of a queue (``QueueList/payloadRole(of:)``): the device
/// name it decodes for, the queue's index and its device's queue count, and the features assumed.
public struct PayloadRole: Sendable, Hashable {
    /// The decoder's device name (`virtio-net`, also for a scan's `virtio-net-rx`).
    public var device: String
    /// The queue's index in the device's numbering (virtio-net: even receives, odd transmits).
    public var queueIndex: Int
    /// The device's queue count (virtio-net: an odd count ends with the control queue).
    public var queueCount: Int
    /// The features payloads are read with (QMP's for the queue; `VERSION_1` for a scan).
    public var features: VirtioFeatures

    /// A role from its parts.
    public init(device: String, queueIndex: Int, queueCount: Int, features: VirtioFeatures = [.version1]) {
        self.device = device
        self.queueIndex = queueIndex
        self.queueCount = queueCount
        self.features = features
    }

    /// What `chain` carries (``PayloadDecoder/decode(_:device:queueIndex:queueCount:memory:completedLength:features:)``);
    /// pass `completedLength` for a used chain.
    public func decode(_ chain: Chain, memory: GuestMemory, completedLength: UInt32? = nil) -> DevicePayload? {
        PayloadDecoder.decode(chain, device: device, queueIndex: queueIndex, queueCount: queueCount, memory: memory,
                              completedLength: completedLength, features: features)
    }
}

/// What a virtqueue carries, from its device type and index as the virtio spec numbers queues
/// (virtio 1.2, 5): **requests** the device must act on as soon as it sees them (virtio-blk,
/// net tx, control queues), or **receive** buffers the driver posts for the device to hold until it
/// has something to give (net rx, console input, rng, input events, scsi events, balloon stats).
///
/// A request in flight for long is stuck; a receive buffer in flight for long is normal (nothing
/// came). A receive queue with nothing posted is starved: nothing can arrive — unless its driver
/// posts only when asked (virtio-rng), where an empty queue is idle.
public struct QueueRole: Sendable, Hashable, CustomStringConvertible {
    /// Which way the queue's buffers go.
    public enum Flow: String, Sendable, Hashable {
        /// The device must act on each chain (read it, write the answer) without waiting for anything.
        case requests
        /// The device holds each chain until data comes (or, for balloon stats, until it asks).
        case receive
        /// Not known: judge each chain by its shape (no device-readable part: a receive buffer).
        case unknown
    }

    /// Which way the buffers go.
    public var flow: Flow
    /// A short name for people: `rx`, `tx`, `ctrl`, `requests`, `port 1 rx`, `stats`...
    public var name: String
    /// Whether a working driver keeps buffers posted here as long as the device is up (net rx,
    /// console control input, input events...): such a queue that was never used is starved, while a
    /// receive queue that need not be filled (a console port nobody opened) is merely unused.
    public var keptFilled: Bool
    /// Whether the driver posts a buffer here only when something asks it for data (virtio-rng: a
    /// read of /dev/hwrng): an empty queue then is idle, waiting for the next ask, never starved.
    public var postsOnDemand: Bool

    /// A role from its parts.
    public init(flow: Flow, name: String, keptFilled: Bool = false, postsOnDemand: Bool = false) {
        self.flow = flow
        self.name = name
        self.keptFilled = keptFilled
        self.postsOnDemand = postsOnDemand
    }

    /// No knowledge of the queue: chains are judged by their shape.
    public static let unknown = QueueRole(flow: .unknown, name: "queue")

    /// The role of queue `index` of a device of `type`; `queueCount` (the highest active index + 1)
    /// tells virtio-net's control queue (the last one, at an even index) from a receive queue.
    public init(type: VirtioDeviceType?, index: Int, queueCount: Int? = nil) {
        let requests = { (name: String) in QueueRole(flow: .requests, name: name) }
        let receive = { (name: String, kept: Bool) in QueueRole(flow: .receive, name: name, keptFilled: kept) }
        switch type {
        case .network?:
            // 2k: receiveq k, 2k+1: transmitq k, 2N: controlq (with VIRTIO_NET_F_CTRL_VQ; never alone).
            if let queueCount, queueCount >= 3, queueCount % 2 == 1, index == queueCount - 1 { self = requests("ctrl"); return }
            if index % 2 == 1 { self = requests(index == 1 ? "tx" : "tx \(index / 2)"); return }
            if index == 0 || queueCount != nil { self = receive(index == 0 ? "rx" : "rx \(index / 2)", true); return }
            // An even index past 0 without the queue count: rx of another pair, or the control queue.
            self = QueueRole(flow: .unknown, name: "rx or ctrl")
        case .block?, .ninePTransport?, .gpu?, .crypto?, .memory?, .fileSystem?, .persistentMemory?:
            self = requests("requests")
        case .console?:
            // 0/1: port 0 in/out; 2/3: control in/out (multiport); 4+2k/5+2k: port k+1 in/out.
            switch index {
            case 2: self = receive("control rx", true)
            case 3: self = requests("control tx")
            default:
                let port = index < 2 ? 0 : index / 2 - 1
                self = index % 2 == 0 ? receive("port \(port) rx", false) : requests("port \(port) tx")
            }
        case .entropy?:
            self = QueueRole(flow: .receive, name: "entropy", postsOnDemand: true)
        case .balloon?:
            // inflateq, deflateq, statsq (held by the device until it wants statistics), free page hints, reporting.
            self = index == 2 ? receive("stats", true) : requests(["inflate", "deflate", "stats", "free page hints", "reporting"][min(index, 4)])
        case .scsi?:
            self = index == 1 ? receive("events", true) : requests(index == 0 ? "ctrl" : "requests")
        case .input?:
            self = index == 0 ? receive("events", true) : requests("status")
        case .socket?:
            self = index == 1 ? requests("tx") : receive(index == 0 ? "rx" : "events", true)
        case .iommu?:
            self = index == 1 ? receive("events", true) : requests("requests")
        case .sound?:
            // controlq, eventq, txq, rxq (capture buffers wait for sound to come).
            switch index {
            case 1: self = receive("events", true)
            case 3: self = receive("capture", false)
            default: self = requests(index == 0 ? "ctrl" : "playback")
            }
        case nil:
            self = .unknown
        }
    }

    /// The role of queue `index` of the device QEMU (or `vqscope scan`) names `deviceName`. A scan's
    /// guesses `virtio-net-rx`, `virtio-net-tx` and `virtio-net-ctrl` name the role themselves.
    public init(deviceName: String, index: Int, queueCount: Int? = nil) {
        if deviceName.hasSuffix("-rx") { self = QueueRole(flow: .receive, name: "rx", keptFilled: true); return }
        if deviceName.hasSuffix("-tx") { self = QueueRole(flow: .requests, name: "tx"); return }
        if deviceName.hasSuffix("-ctrl") { self = QueueRole(flow: .requests, name: "ctrl"); return }
        self.init(type: VirtioDeviceType(name: deviceName), index: index, queueCount: queueCount)
    }

    /// The role of a ring a RAM scan found, from its guess alone (`virtio-blk`, `virtio-net-rx`,
    /// `virtio-console`...): the queue's index is not known, so only guesses that name a role, or
    /// devices whose queues all carry the same, give one; the rest are judged by their chains' shape.
    public init(guess: String) {
        if guess.hasSuffix("-rx") || guess.hasSuffix("-tx") || guess.hasSuffix("-ctrl") {
            self.init(deviceName: guess, index: 0)
            return
        }
        switch VirtioDeviceType(name: guess) {
        case .block?, .ninePTransport?, .gpu?, .crypto?, .memory?, .fileSystem?, .persistentMemory?, .entropy?:
            self.init(type: VirtioDeviceType(name: guess), index: 0)
        default:
            self = .unknown
        }
    }

    /// The role of `queue` of `device`, from the device ID QEMU reports (else its name) and the
    /// device's active queues.
    public init(device: VirtioDevice, queue: Virtqueue) {
        let count = (device.queues.map(\.index).max() ?? queue.index) + 1
        let type = VirtioDeviceType(rawValue: device.deviceID) ?? VirtioDeviceType(name: device.name)
        self.init(type: type, index: queue.index, queueCount: count)
    }

    /// `rx (receive)`.
    public var description: String { "\(name) (\(flow.rawValue))" }
}

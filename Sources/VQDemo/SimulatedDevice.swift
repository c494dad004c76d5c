/// One simulated virtio-pci device: what QEMU knows of it, its queues, and one tick of its traffic
/// (driver and device sides both).
protocol SimulatedDevice: Sendable {
    var identity: DeviceIdentity { get }
    /// Every queue the device has, in index order.
    var queueReports: [QueueReport] { get }
    /// Runs one tick (10 ms of simulated time) of driver and device work at tick number `now`.
    mutating func tick(_ now: UInt64, ram: GuestRAM, random: inout DemoRandom)
}

/// What QEMU knows of a virtio-pci device: its names, PCI slot, negotiated features and status.
struct DeviceIdentity: Hashable, Sendable {
    /// The virtio device name (`virtio-net`).
    var name: String
    /// The PCI proxy's type (`virtio-net-pci`).
    var proxyType: String
    /// The `id=` of the device on the command line (`net0`).
    var id: String
    /// The virtio device type (1 net, 2 block, 4 entropy).
    var deviceID: Int
    /// PCI device and function, `slot << 3 | function`.
    var devfn: Int
    /// The features the device offers.
    var hostFeatures: UInt64
    /// The features the driver accepted.
    var guestFeatures: UInt64
    /// The device status byte the driver set (ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK).
    var status: UInt8 = 0x0f

    /// The QOM path of the PCI proxy device.
    var proxyPath: String { "/machine/peripheral/\(id)" }
    /// The QOM path of the virtio backend (what `x-query-virtio` lists).
    var backendPath: String { proxyPath + "/virtio-backend" }
    /// The PCI address as people write it: `00:03.0` (bus 0).
    var pciAddress: String {
        let slot = String(devfn >> 3, radix: 16)
        return "00:" + (slot.count < 2 ? "0" + slot : slot) + ".\(devfn & 7)"
    }
}

/// One queue as QEMU's `x-query-virtio-queue-status` reports it.
struct QueueReport: Hashable, Sendable {
    var addresses: QueueAddresses
    var view: DeviceQueueView
    /// The queue size the device offers (`vring-num-default`).
    var defaultSize: UInt16
}

/// Virtio feature bits the simulated devices negotiate.
enum FeatureBit {
    static let indirectDescriptors: UInt64 = 1 << 28
    static let eventIndex: UInt64 = 1 << 29
    static let version1: UInt64 = 1 << 32
    static let ringPacked: UInt64 = 1 << 34
    static let notifyOnEmpty: UInt64 = 1 << 24
    static let anyLayout: UInt64 = 1 << 27

    /// Ring features every simulated device offers.
    static let offered = indirectDescriptors | eventIndex | version1 | notifyOnEmpty | anyLayout

    static func bits(_ numbers: [Int]) -> UInt64 { numbers.reduce(0) { $0 | 1 << UInt64($1) } }
}

import Glibc
import Synchronization
import VQCore

/// A simulated virtual machine: guest RAM in this process holding the virtqueues of a virtio-net
/// device (split rings), a virtio-blk device (a split ring of indirect requests), a second
/// virtio-net device (packed rings) and a virtio-rng device (a packed ring), with a driver and a
/// device simulated on both sides of every queue and steady, varied traffic.
///
/// Time goes in ticks of 10 ms: ``advance(ticks:)`` runs them at once (tests), ``start()`` runs
/// them in real time on a thread of its own (the demo). Paused (``pause()``), the guest changes no
/// memory at all until ``resume()``: a tick runs under the same lock that pausing takes.
///
/// What it holds is read from outside the way a real guest is: ``slotMap`` says where guest memory
/// lives in this process, ``virtioDevices()`` where each queue is (as QMP would say it).
public final class SimulatedGuest: Sendable {
    /// How to build the guest.
    public struct Configuration: Hashable, Sendable {
        /// The VM's name (`-name`).
        public var name: String
        /// Guest RAM in bytes (`-m`): whole MiB from 16 MiB to 2 GiB.
        public var ramSize: UInt64
        /// The seed of the traffic; the same seed gives the same run, tick by tick.
        public var seed: UInt64
        /// Real time per tick when running on its own thread, in nanoseconds.
        public var tickNanoseconds: UInt64

        /// A configuration; the defaults are those of `vqscope demo`.
        public init(name: String = "vqscope-demo", ramSize: UInt64 = 64 << 20, seed: UInt64 = 0x7671_7363_6f70_65,
                    tickNanoseconds: UInt64 = 10_000_000) {
            self.name = name
            self.ramSize = ramSize
            self.seed = seed
            self.tickNanoseconds = tickNanoseconds
        }
    }

    /// How the guest was built.
    public let configuration: Configuration
    let memory: MachineMemory
    private let machine: Mutex<Machine>
    private let runner = Mutex<DemoThread?>(nil)
    private let stopping = Atomic<Bool>(false)

    /// Everything that changes, behind one lock.
    private struct Machine: Sendable {
        var devices: [any SimulatedDevice]
        var random: DemoRandom
        var now: UInt64 = 0
        var running = true
    }

    /// Maps guest memory and sets up the devices and their rings, as a booted guest has them.
    public init(configuration: Configuration = Configuration()) throws(DemoError) {
        self.configuration = configuration
        let blocks = try MemoryBlocks(ramSize: configuration.ramSize)
        let ram = blocks.ram
        var random = DemoRandom(seed: configuration.seed)
        // Leave the low memory (and what a kernel image would take) alone, as a guest's page
        // allocator hands out high pages first.
        var allocator = GuestAllocator(floor: MachineMemory.highMemory + min(ram.size / 4, 16 << 20), ceiling: ram.size)
        let devices: [any SimulatedDevice] = [
            try NetDevice<SplitQueue>(id: "net0", slot: 3, index: 0, packed: false, indirect: false, queueSize: 256,
                                      allocator: &allocator, ram: ram),
            try BlockDevice(id: "disk0", slot: 4, queueSize: 128, allocator: &allocator, ram: ram, random: &random),
            try NetDevice<PackedQueue>(id: "net1", slot: 5, index: 1, packed: true, indirect: true, queueSize: 256,
                                       allocator: &allocator, ram: ram),
            try RngDevice(id: "rng0", slot: 6, allocator: &allocator, ram: ram),
        ]
        memory = MachineMemory(blocks: blocks, devices: devices.map { ($0.identity, $0.queueReports.count) })
        machine = Mutex(Machine(devices: devices, random: random))
    }

    deinit { stop() }

    // MARK: Time

    /// Runs `ticks` ticks now (none while paused).
    public func advance(ticks: Int = 1) {
        let ram = memory.blocks.ram
        machine.withLock { machine in
            guard machine.running else { return }
            var random = machine.random
            for _ in 0..<max(0, ticks) {
                for i in machine.devices.indices {
                    machine.devices[i].tick(machine.now, ram: ram, random: &random)
                }
                machine.now += 1
            }
            machine.random = random
        }
    }

    /// Ticks run so far.
    public var ticks: UInt64 { machine.withLock { $0.now } }

    /// Runs ticks in real time on a thread of its own until ``stop()`` (the thread keeps the guest
    /// alive until then). A guest that fell behind (a loaded machine) catches up at most a few ticks
    /// at once, then keeps time from there.
    public func start() throws(DemoError) {
        try runner.withLock { (runner: inout DemoThread?) throws(DemoError) in
            guard runner == nil else { return }
            stopping.store(false, ordering: .relaxed)
            runner = try DemoThread { [self] in self.run() }
        }
    }

    /// Stops the thread ``start()`` started and waits for it; the guest keeps its state.
    public func stop() {
        let thread = runner.withLock { runner -> DemoThread? in
            defer { runner = nil }
            return runner
        }
        guard let thread else { return }
        stopping.store(true, ordering: .relaxed)
        thread.join()
    }

    private func run() {
        let interval = configuration.tickNanoseconds
        var next = MonotonicClock.nanoseconds()
        while !stopping.load(ordering: .relaxed) {
            next += interval
            MonotonicClock.sleep(untilNanoseconds: next)
            let late = MonotonicClock.nanoseconds() &- next
            let due = late < 1 << 63 ? 1 + Int(late / interval) : 1
            advance(ticks: min(due, 5))
            if due > 5 { next = MonotonicClock.nanoseconds() }
        }
    }

    // MARK: Run state

    /// Stops all guest activity; true when the guest was running. When it returns, no tick is
    /// under way and none will run until ``resume()``.
    @discardableResult
    public func pause() -> Bool {
        machine.withLock { machine in
            defer { machine.running = false }
            return machine.running
        }
    }

    /// Lets the guest run again; true when it was paused.
    @discardableResult
    public func resume() -> Bool {
        machine.withLock { machine in
            defer { machine.running = true }
            return !machine.running
        }
    }

    /// Whether the guest runs (not paused).
    public var isRunning: Bool { machine.withLock { $0.running } }

    // MARK: What an inspector sees

    /// Where guest memory lives in this process: the slot map QEMU's answers over QMP give.
    public var slotMap: SlotMap { memory.slotMap }

    /// Guest RAM (`pc.ram`) in this process: where it starts and how long it is.
    public var ram: (hostAddress: UInt64, size: UInt64) { (memory.blocks.ram.hostAddress, memory.blocks.ram.size) }

    /// The devices and their queues, as ``QMPVirtioSource`` reads them from QEMU, in PCI order.
    public func virtioDevices() -> [VirtioDevice] {
        deviceStates().map { state in
            let identity = state.identity
            // The ring features, and the device features vqscope reads by name (virtio-net's header).
            let netBits: VirtioFeatures = identity.deviceID == 1 ? [.netMergeableReceiveBuffers, .netControlQueue, .netHashReport] : []
            let features = VirtioFeatures(rawValue: identity.guestFeatures & (VirtioFeatureNames.transportMask | netBits.rawValue))
            let layout: RingLayout = features.contains(.packedRing) ? .packed : .split
            var device = VirtioDevice(
                name: identity.name, path: identity.backendPath, id: identity.id,
                pciAddress: identity.pciAddress, deviceID: identity.deviceID, features: features,
                status: VirtioFeatureNames.statusNames(identity.status))
            for (index, report) in state.queues.enumerated() {
                let a = report.addresses
                device.queues.append(Virtqueue(
                    device: identity.name, path: identity.backendPath, index: index,
                    location: VirtqueueLocation(layout: layout, size: a.size, descriptors: GuestPhysicalAddress(a.descriptors),
                                                driverArea: GuestPhysicalAddress(a.driverArea),
                                                deviceArea: GuestPhysicalAddress(a.deviceArea), features: features),
                    deviceState: DeviceQueueState(lastAvailIndex: report.view.lastAvailIndex, shadowAvailIndex: report.view.shadowAvailIndex,
                                                  usedIndex: report.view.usedIndex, inUse: report.view.inUse)))
            }
            return device
        }
    }

    /// Each device's identity and queues, in PCI order, read under the lock.
    func deviceStates() -> [(identity: DeviceIdentity, queues: [QueueReport])] {
        machine.withLock { machine in
            machine.devices.map { ($0.identity, $0.queueReports) }.sorted { $0.0.devfn < $1.0.devfn }
        }
    }
}

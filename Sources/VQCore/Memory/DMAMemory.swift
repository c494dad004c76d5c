/// Guest memory as each virtio device reaches it by DMA: guest memory itself for a device whose
/// addresses are guest-physical, the device's IOVA view (``IOVASpace/deviceMemory(_:)``) for one
/// behind the Intel IOMMU. The seam between the IOMMU walk and the ring decoders: read a device's
/// rings through `memory(for:)` instead of the target's guest memory, and nothing changes for
/// devices without ACCESS_PLATFORM or machines without an IOMMU.
///
/// Views are built once per ``refresh()`` (one walk of each device's tables).
public struct DMAMemory {
    /// Guest-physical memory.
    public let guest: GuestMemory
    /// The machine's IOMMU, if any.
    public let iommu: MachineIOMMU?
    /// The Intel IOMMU's registers, when they were read (through QMP); `nil` otherwise.
    public var registers: VTdRegisters?
    /// Why ``registers`` is `nil`, said after "its registers were not read: ".
    public var registersMissing: String
    /// Most page tables read per device and refresh.
    public var maxTables: Int
    /// The bus each device sits on (its QOM path, ``QMPVirtioSource/parentBus(client:path:)``),
    /// by device path, as far as known: a device off the root bus is not translated.
    public var buses: [String: String] = [:]
    private var views: [PCIAddress: RingMemory] = [:]

    /// DMA memory over `guest` on a machine with `iommu`.
    public init(guest: GuestMemory, iommu: MachineIOMMU?, registers: VTdRegisters? = nil,
                registersMissing: String = "they are read through QMP", maxTables: Int = 4096) {
        self.guest = guest
        self.iommu = iommu
        self.registers = registers
        self.registersMissing = registersMissing
        self.maxTables = maxTables
    }

    /// The memory `device`'s rings, descriptors and buffers are read through. Throws, naming why,
    /// when its addresses are IOVAs vqscope cannot translate.
    public mutating func memory(for device: VirtioDevice) throws(IOMMUTranslationError) -> GuestMemory {
        try ringMemory(for: device).memory
    }

    /// ``memory(for:)`` with what the device's addresses are and where each maps.
    public mutating func ringMemory(for device: VirtioDevice) throws(IOMMUTranslationError) -> RingMemory {
        switch DeviceAddressing(features: device.features, iommu: iommu) {
        case .guestPhysical:
            return RingMemory(guest: guest)
        case let .untranslatableIOVA(error):
            throw error
        case let .iova(kind):
            guard let registers else {
                throw .untranslatable(kind, reason: "its registers were not read: \(registersMissing)")
            }
            guard let text = device.pciAddress, let address = PCIAddress(text) else {
                throw .untranslatable(kind, reason: "QEMU did not say which PCI device \(device.name) is")
            }
            if let bus = buses[device.path], !QMPVirtioSource.isRootBus(bus) {
                throw .untranslatable(kind, reason: "\(device.name) sits on bus \(bus), behind a bridge: the IOMMU tells devices apart "
                                      + "by the bus number the guest gave that bus, which vqscope does not read yet (it knows only slot \(text))")
            }
            if let view = views[address] { return view }
            let space = try IOVASpace(device: address, registers: registers, memory: guest)
            let view: RingMemory
            if space.isIdentity {
                view = RingMemory(guest: guest)
            } else {
                let mappings = space.allMappings(maxTables: maxTables)
                view = RingMemory(memory: space.deviceMemory(mappings), addressing: .iova(kind), runs: mappings.runs,
                                  problems: mappings.problems)
            }
            views[address] = view
            return view
        }
    }

    /// What the last walk of `device`'s tables could not read (tables outside RAM, loops).
    public func problems(for device: PCIAddress) -> [IOMMUTranslationError] { views[device]?.problems ?? [] }

    /// Forgets the views: the next `memory(for:)` walks the tables again.
    public mutating func refresh() { views.removeAll(keepingCapacity: true) }

    /// Forgets one device's view: its next `memory(for:)` walks its tables again.
    public mutating func refresh(_ device: PCIAddress) { views[device] = nil }
}

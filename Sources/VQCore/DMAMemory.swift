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
    /// Most page tables read per device and refresh.
    public var maxTables: Int
    private var views: [PCIAddress: (memory: GuestMemory, problems: [IOMMUTranslationError])] = [:]

    /// DMA memory over `guest` on a machine with `iommu`.
    public init(guest: GuestMemory, iommu: MachineIOMMU?, registers: VTdRegisters? = nil, maxTables: Int = 4096) {
        self.guest = guest
        self.iommu = iommu
        self.registers = registers
        self.maxTables = maxTables
    }

    /// The memory `device`'s rings, descriptors and buffers are read through. Throws, naming why,
    /// when its addresses are IOVAs vqscope cannot translate.
    public mutating func memory(for device: VirtioDevice) throws(IOMMUTranslationError) -> GuestMemory {
        switch DeviceAddressing(features: device.features, iommu: iommu) {
        case .guestPhysical:
            return guest
        case let .untranslatableIOVA(error):
            throw error
        case .iova:
            guard let registers else {
                throw .untranslatable(.intel, reason: "its registers were not read (they are read through QMP)")
            }
            guard let text = device.pciAddress, let address = PCIAddress(text) else {
                throw .untranslatable(.intel, reason: "QEMU did not say which PCI device \(device.name) is")
            }
            if let view = views[address] { return view.memory }
            let space = try IOVASpace(device: address, registers: registers, memory: guest)
            let mappings = space.allMappings(maxTables: maxTables)
            let memory = space.deviceMemory(mappings)
            views[address] = (memory, mappings.problems)
            return memory
        }
    }

    /// What the last walk of `device`'s tables could not read (tables outside RAM, loops).
    public func problems(for device: PCIAddress) -> [IOMMUTranslationError] { views[device]?.problems ?? [] }

    /// Forgets the views: the next `memory(for:)` walks the tables again.
    public mutating func refresh() { views.removeAll(keepingCapacity: true) }
}

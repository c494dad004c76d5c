extension Target {
    /// The machine's virtual IOMMU, from QEMU's command line: `nil` without one, and for an image
    /// (which does not say).
    public var iommu: MachineIOMMU? { dmaMemory().iommu }

    /// The memory to read `queue`'s rings, descriptors, indirect tables and buffers through, and
    /// what its addresses are: ``memory`` itself for a device whose addresses are guest-physical
    /// (no ACCESS_PLATFORM, no IOMMU, an image), the device's view through the Intel IOMMU when its
    /// addresses are I/O virtual addresses. Every command and the inspector read rings through
    /// this, and call ``refreshRings()`` once per poll.
    ///
    /// Throws one line naming the IOMMU and why when the addresses are IOVAs vqscope cannot
    /// translate (an IOMMU it does not walk, registers not read without QMP, a mode it does not
    /// know, no DMA domain): no ring is then read from IOVAs as if they were guest-physical. Rings
    /// a RAM scan found (no QMP) on a machine whose IOMMU translates DMA throw too: their devices'
    /// features are unknown.
    public func ringMemory(for queue: Virtqueue, in list: QueueList) throws(IOMMUTranslationError) -> RingMemory {
        var dma = dmaMemory()
        defer { self.dma = dma }
        guard list.source == .qmp else {
            if case let .untranslatableIOVA(error) = addressing(of: queue, in: list) { throw error }
            return RingMemory(guest: memory)
        }
        guard let device = list.device(of: queue) else { return RingMemory(guest: memory) }
        // Behind an IOMMU the bus matters: QEMU's `addr` gives the slot only.
        if dma.buses[device.path] == nil, let qmp, DeviceAddressing(features: device.features, iommu: dma.iommu).isIOVA,
           let bus = QMPVirtioSource.parentBus(client: qmp, path: device.path) {
            dma.buses[device.path] = bus
        }
        return try dma.ringMemory(for: device)
    }

    /// `queue`'s ring read by `read` through its memory. Behind an IOMMU, when what was read names
    /// an IOVA the walk did not find mapped (`iova_unmapped`, `unmapped(result)`), the guest may have
    /// mapped a buffer and made it available between the walk and the read: the device's tables are
    /// walked again and the ring read once more, and that answer stands.
    public func readRing<Result>(_ queue: Virtqueue, in list: QueueList, unmapped: (Result) -> Bool,
                                 _ read: (RingMemory) throws(MemoryError) -> Result) throws(MemoryError) -> Result {
        let ring: RingMemory
        do throws(IOMMUTranslationError) { ring = try ringMemory(for: queue, in: list) } catch { throw .untranslated(error) }
        let first = try read(ring)
        guard ring.isIOVA, unmapped(first), let text = list.device(of: queue)?.pciAddress, let device = PCIAddress(text) else {
            return first
        }
        dma?.refresh(device)
        let again: RingMemory
        do throws(IOMMUTranslationError) { again = try ringMemory(for: queue, in: list) } catch { throw .untranslated(error) }
        return try read(again)
    }

    /// What the addresses of `queue`'s device are, without reading anything: `gpa` or `iova`
    /// (translatable or not).
    public func addressing(of queue: Virtqueue, in list: QueueList) -> DeviceAddressing {
        let iommu = dmaMemory().iommu
        guard list.source == .qmp else {
            if let iommu, !iommu.defaultBusBypassesIOMMU, iommu.translatesDMA {
                return .untranslatableIOVA(.untranslatable(iommu.kind, reason: "without QMP vqscope can neither tell which devices "
                    + "use it nor read its registers, so rings found in RAM are not decoded (their addresses may be I/O virtual addresses)"))
            }
            return .guestPhysical(reason: "no IOMMU translates the machine's DMA")
        }
        guard let device = list.device(of: queue) else { return .guestPhysical(reason: "QEMU did not list the queue's device") }
        return DeviceAddressing(features: device.features, iommu: iommu)
    }

    /// Forgets the devices' IOMMU views: the next ``ringMemory(for:in:)`` walks their tables again
    /// (once per poll; the guest maps and unmaps buffers as it goes).
    public func refreshRings() {
        dma?.refresh()
    }

    /// The target's DMA memory, built once: the IOMMU from QEMU's command line and, for an Intel
    /// IOMMU that translates DMA, its registers read through QMP.
    func dmaMemory() -> DMAMemory {
        if let dma { return dma }
        let iommu = process.flatMap { MachineIOMMU(commandLine: $0.commandLine) }
        var made = DMAMemory(guest: memory, iommu: iommu)
        if qmp == nil {
            let why = imagePath != nil ? "an image" : notes.first { $0.lowercased().contains("qmp") } ?? "--no-qmp"
            made.registersMissing = "there is no QMP connection (\(why)); "
                + "vqscope reads them through QMP"
        }
        if iommu?.kind == .intel, let qmp, iommu?.translatesDMA == true {
            made = readRegisters(into: made, through: qmp)
        }
        dma = made
        return made
    }

    private func readRegisters(into dma: DMAMemory, through qmp: QMPClient) -> DMAMemory {
        var dma = dma
        do throws(QMPError) {
            if let registers = try VTdRegisters.read(through: qmp) {
                dma.registers = registers
            } else {
                dma.registersMissing = "QEMU's memory tree (info mtree -f) has no intel_iommu register window"
            }
        } catch {
            dma.registersMissing = "reading them through QMP failed: \(error)"
        }
        return dma
    }
}

extension VirtioFeatures {
    /// VIRTIO_F_ACCESS_PLATFORM (33), QEMU's `iommu_platform=on`: the device reaches memory through
    /// the platform's IOMMU, so behind a virtual IOMMU its addresses are I/O virtual addresses.
    public static let accessPlatform = VirtioFeatures(rawValue: 1 << 33)
}

/// What a virtio device's addresses are: the ring addresses QEMU reports, every descriptor's and
/// indirect table's. Decided once per device from its negotiated features and the machine's IOMMU.
public enum DeviceAddressing: Equatable, Sendable {
    /// Guest-physical addresses, read through the slot map as they are; `reason` says why.
    case guestPhysical(reason: String)
    /// I/O virtual addresses of the device's DMA domain, which vqscope translates by walking this
    /// IOMMU's tables in guest RAM (``IOVASpace``).
    case iova(VirtualIOMMU)
    /// I/O virtual addresses vqscope cannot translate; the error says why.
    case untranslatableIOVA(IOMMUTranslationError)

    /// How the addresses of a device that negotiated `features` read on a machine with `iommu`
    /// (`nil`: none). A device uses the IOMMU only when it negotiated VIRTIO_F_ACCESS_PLATFORM
    /// and the machine has one that does not let its bus bypass it (virtio 1.2, 6.1; QEMU's
    /// virtio_pci_get_dma_as). Without ACCESS_PLATFORM QEMU gives the device all of guest memory,
    /// IOMMU or not.
    ///
    /// Devices behind a `pxb-pcie` with `bypass_iommu=off` on a machine with
    /// `default-bus-bypass-iommu=on` are not told apart: they are taken to bypass it too.
    public init(features: VirtioFeatures, iommu: MachineIOMMU?) {
        guard features.contains(.accessPlatform) else {
            self = .guestPhysical(reason: "the device did not negotiate VIRTIO_F_ACCESS_PLATFORM (iommu_platform=on)")
            return
        }
        guard let iommu else {
            self = .guestPhysical(reason: "the machine has no virtual IOMMU, so ACCESS_PLATFORM changes nothing")
            return
        }
        if iommu.defaultBusBypassesIOMMU {
            self = .guestPhysical(reason: "the machine has default-bus-bypass-iommu=on: its PCI devices bypass the \(iommu.kind.displayName)")
            return
        }
        guard iommu.translatesDMA else {
            self = .guestPhysical(reason: "the \(iommu.kind.displayName) has dma-translation=off: it remaps interrupts only")
            return
        }
        switch iommu.kind {
        case .intel:
            self = .iova(.intel)
        case .amd:
            self = .untranslatableIOVA(.untranslatable(.amd, reason: "vqscope walks only Intel VT-d tables; AMD-Vi's device table is not read yet"))
        case .virtio:
            self = .untranslatableIOVA(.untranslatable(.virtio, reason: "its mappings live in QEMU's memory (MAP requests), not in guest tables"))
        case .smmuv3:
            self = .untranslatableIOVA(.untranslatable(.smmuv3, reason: "vqscope walks only Intel VT-d tables"))
        }
    }

    /// Whether the addresses are I/O virtual addresses (translatable or not).
    public var isIOVA: Bool {
        if case .guestPhysical = self { return false }
        return true
    }
}

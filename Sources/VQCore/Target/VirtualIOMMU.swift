/// The kinds of virtual IOMMU a QEMU machine can have. Behind one, a device that negotiated
/// VIRTIO_F_ACCESS_PLATFORM addresses memory with I/O virtual addresses of its DMA domain.
public enum VirtualIOMMU: String, Hashable, Sendable, CaseIterable {
    /// `-device intel-iommu`: Intel VT-d (DMAR). The only one vqscope walks.
    case intel
    /// `-device amd-iommu`: AMD-Vi.
    case amd
    /// `-device virtio-iommu-pci` (or `virtio-iommu-device`): the paravirtual IOMMU, whose
    /// mappings live in QEMU's memory, not in guest tables.
    case virtio
    /// `-machine virt,iommu=smmuv3` or `-device arm-smmuv3`: the Arm SMMUv3.
    case smmuv3

    /// What users call it.
    public var displayName: String {
        switch self {
        case .intel: return "Intel IOMMU (VT-d)"
        case .amd: return "AMD IOMMU"
        case .virtio: return "virtio-iommu"
        case .smmuv3: return "Arm SMMUv3"
        }
    }

    /// QEMU's name for it, as JSON output gives it: `intel-iommu`, `amd-iommu`, `virtio-iommu`, `smmuv3`.
    public var qemuName: String {
        switch self {
        case .intel: return "intel-iommu"
        case .amd: return "amd-iommu"
        case .virtio: return "virtio-iommu"
        case .smmuv3: return "smmuv3"
        }
    }

    /// The IOMMU a `-device` driver name creates, if any.
    public init?(deviceDriver driver: String) {
        switch driver {
        case "intel-iommu": self = .intel
        case "amd-iommu": self = .amd
        case "virtio-iommu-pci", "virtio-iommu-device", "virtio-iommu": self = .virtio
        case "arm-smmuv3": self = .smmuv3
        default: return nil
        }
    }
}

/// The virtual IOMMU a QEMU command line gives its machine, with the options that change which
/// devices it translates for.
public struct MachineIOMMU: Hashable, Sendable {
    /// Which IOMMU.
    public var kind: VirtualIOMMU
    /// Its options as written (`-device intel-iommu,intremap=off,aw-bits=48` → `intremap`, `aw-bits`).
    public var options: QEMUOptions
    /// `-machine ...,default-bus-bypass-iommu=on` (or `default_bus_bypass_iommu`): devices of the
    /// main PCI hierarchy bypass the IOMMU, their addresses stay guest-physical.
    public var defaultBusBypassesIOMMU: Bool

    /// Whether the IOMMU translates DMA at all: `-device intel-iommu,dma-translation=off` keeps only
    /// interrupt remapping (QEMU then offers the guest no page-table depth to translate with).
    public var translatesDMA: Bool {
        guard kind == .intel, let value = options["dma-translation"] else { return true }
        return !["off", "no", "false", "n"].contains(value)
    }

    /// An IOMMU from its parts.
    public init(kind: VirtualIOMMU, options: QEMUOptions = QEMUOptions(""), defaultBusBypassesIOMMU: Bool = false) {
        self.kind = kind
        self.options = options
        self.defaultBusBypassesIOMMU = defaultBusBypassesIOMMU
    }

    /// The IOMMU `commandLine` configures, or `nil` when it has none. Reads `-device DRIVER,...` and
    /// libvirt's JSON form `-device {"driver":"intel-iommu",...}`, and `-machine iommu=` (`smmuv3`
    /// on Arm's `virt`; `on` on x86, VT-d's spelling before `-device intel-iommu`, gone from QEMU 7.2's q35).
    /// The last IOMMU given wins (QEMU itself allows one).
    public init?(commandLine: QEMUCommandLine) {
        var found: (VirtualIOMMU, QEMUOptions)?
        var bypass = false
        let arguments = commandLine.arguments
        var i = 1
        while i + 1 < arguments.count {
            var option = arguments[i]
            if option.hasPrefix("--") { option.removeFirst() }
            let value = arguments[i + 1]
            switch option {
            case "-device":
                let options = Self.deviceOptions(value)
                if let driver = options["driver"], let kind = VirtualIOMMU(deviceDriver: driver) { found = (kind, options) }
                i += 2
            case "-machine", "-M":
                let options = QEMUOptions(value, impliedKey: "type")
                if let on = options["default-bus-bypass-iommu"] ?? options["default_bus_bypass_iommu"] { bypass = Self.isOn(on) }
                if let iommu = options["iommu"] {
                    if iommu == "smmuv3" { found = (.smmuv3, options) } else if Self.isOn(iommu) { found = (.intel, options) }
                }
                i += 2
            default:
                i += 1
            }
        }
        guard let found else { return nil }
        self.init(kind: found.0, options: found.1, defaultBusBypassesIOMMU: bypass)
    }

    /// `-device` options in QEMU's `driver,key=value` syntax or as a JSON object (values as text).
    static func deviceOptions(_ value: String) -> QEMUOptions {
        guard value.hasPrefix("{"), let object = try? JSON.parse(value), case let .object(members) = object else {
            return QEMUOptions(value, impliedKey: "driver")
        }
        var text: [String] = []
        for (key, member) in members {
            let plain: String
            switch member {
            case let .string(s): plain = s
            case let .bool(b): plain = b ? "on" : "off"
            default: plain = member.text
            }
            text.append(escaped(key) + "=" + escaped(plain))
        }
        return QEMUOptions(text.joined(separator: ","))
    }

    /// `a,b` → `a,,b`: QEMU's escape of a comma inside a value.
    private static func escaped(_ text: String) -> String {
        String(text.flatMap { $0 == "," ? [",", ","] : [$0] })
    }

    static func isOn(_ value: String) -> Bool { ["on", "yes", "true", "y"].contains(value) }
}

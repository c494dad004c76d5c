/// Where a PCI device sits: bus, device (slot) and function. An IOMMU tells devices apart by it
/// (the requester ID, `bus << 8 | devfn`), so it picks the device's DMA domain.
public struct PCIAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The bus number, as the guest's firmware or OS numbered the buses.
    public var bus: UInt8
    /// `device << 3 | function`: the index of the device's context entry in its bus's table.
    public var devfn: UInt8

    /// An address from its bus and devfn.
    public init(bus: UInt8, devfn: UInt8) {
        self.bus = bus
        self.devfn = devfn
    }

    /// An address from its parts; `nil` when the device is over 31 or the function over 7.
    public init?(bus: UInt8, device: UInt8, function: UInt8) {
        guard device < 32, function < 8 else { return nil }
        self.init(bus: bus, devfn: device << 3 | function)
    }

    /// Parses `00:04.0` or `0000:00:04.0` (hexadecimal bus and device, as lspci and QEMU print
    /// them). Domains other than 0 are refused: QEMU's x86 IOMMUs serve segment 0 only.
    public init?<S: StringProtocol>(_ text: S) {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 3 {
            guard let domain = UInt16(parts[0], radix: 16), domain == 0 else { return nil }
            parts.removeFirst()
        }
        guard parts.count == 2, (1...2).contains(parts[0].count),
              let bus = UInt8(parts[0], radix: 16) else { return nil }
        let slot = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard slot.count == 2, (1...2).contains(slot[0].count), slot[1].count == 1,
              let device = UInt8(slot[0], radix: 16), let function = UInt8(slot[1], radix: 16) else { return nil }
        self.init(bus: bus, device: device, function: function)
    }

    /// The device (slot) number, 0-31.
    public var device: UInt8 { devfn >> 3 }
    /// The function number, 0-7.
    public var function: UInt8 { devfn & 7 }
    /// The requester ID the device's DMA carries: `bus << 8 | devfn`.
    public var requesterID: UInt16 { UInt16(bus) << 8 | UInt16(devfn) }

    /// `00:04.0`.
    public var description: String {
        func hex2(_ v: UInt8) -> String { v < 16 ? "0" + String(v, radix: 16) : String(v, radix: 16) }
        return "\(hex2(bus)):\(hex2(device)).\(function)"
    }

    public static func < (a: Self, b: Self) -> Bool { a.requesterID < b.requesterID }
}

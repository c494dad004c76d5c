/// Virtio descriptor flag bits (virtio 1.2, 2.7.5 and 2.8.1).
enum DescriptorFlag {
    static let next: UInt16 = 1
    static let write: UInt16 = 2
    static let indirect: UInt16 = 4
    static let avail: UInt16 = 1 << 7
    static let used: UInt16 = 1 << 15
}

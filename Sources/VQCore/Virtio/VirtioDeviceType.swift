/// A virtio device type, by its device ID (virtio 1.2, 5 "Device Types").
public enum VirtioDeviceType: Int, Sendable, Hashable, CaseIterable {
    case network = 1
    case block = 2
    case console = 3
    case entropy = 4
    case balloon = 5
    case scsi = 8
    case ninePTransport = 9
    case gpu = 16
    case input = 18
    case socket = 19
    case crypto = 20
    case iommu = 23
    case memory = 24
    case sound = 25
    case fileSystem = 26
    case persistentMemory = 27

    /// The type of a device as QEMU names its backend (`virtio-net`, `vhost-user-blk`,
    /// `virtio-serial`, `vhost-vsock`, `virtio-user-fs` as QEMU 7.2 names virtio-fs...) or as
    /// `vqscope scan` guesses it (`virtio-net-rx`); `nil` for a name that says no type.
    public init?(name: String) {
        var word = Substring(name)
        for prefix in ["vhost-user-", "virtio-user-", "vhost-", "virtio-"] where word.hasPrefix(prefix) {
            word = word.dropFirst(prefix.count)
            break
        }
        let base = word.split(separator: "-").first.map(String.init) ?? ""
        switch base {
        case "net": self = .network
        case "blk": self = .block
        case "serial", "console": self = .console
        case "rng": self = .entropy
        case "balloon": self = .balloon
        case "scsi": self = .scsi
        case "9p": self = .ninePTransport
        case "gpu": self = .gpu
        case "input": self = .input
        case "vsock": self = .socket
        case "crypto": self = .crypto
        case "iommu": self = .iommu
        case "mem": self = .memory
        case "snd", "sound": self = .sound
        case "fs": self = .fileSystem
        case "pmem": self = .persistentMemory
        default: return nil
        }
    }
}

/// What tells one virtqueue from every other one of a target, across reloads of its queue list:
/// the device's QOM path (empty for a ring a scan found), the device's name and the queue's index.
/// Two devices of the same name have different paths; scanned rings have different names or indexes.
public struct QueueID: Sendable, Hashable, CustomStringConvertible {
    /// The device's QOM path (``Virtqueue/path``).
    public var path: String
    /// The device's name (``Virtqueue/device``).
    public var device: String
    /// The queue's index in its device.
    public var index: Int

    /// An identity from its parts.
    public init(path: String, device: String, index: Int) {
        self.path = path
        self.device = device
        self.index = index
    }

    /// `virtio-blk:0 (/machine/peripheral/blk0/virtio-backend)`, for messages.
    public var description: String { path.isEmpty ? "\(device):\(index)" : "\(device):\(index) (\(path))" }
}

extension Virtqueue {
    /// The queue's identity: the one way to find it again in a list.
    public var id: QueueID { QueueID(path: path, device: device, index: index) }
}

extension Sequence where Element == Virtqueue {
    /// The queue whose identity is `id`, if any.
    public func first(_ id: QueueID) -> Virtqueue? { first { $0.id == id } }
}

extension Collection where Element == Virtqueue {
    /// The position of the queue whose identity is `id`, if any.
    public func firstIndex(of id: QueueID) -> Index? { firstIndex { $0.id == id } }
}

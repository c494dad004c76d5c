/// QEMU's live view of one virtio device and its queues, asked again over QMP (QEMU 7.2+): the
/// device-side indexes of one queue (`x-query-virtio-queue-status`) and whether the device is
/// broken (`x-query-virtio-status`). ``QMPVirtioSource`` lists devices; this re-reads one.
public enum QMPQueueStatus {
    /// QEMU's indexes of `queue`, or nil for a queue a vhost back-end serves (QEMU's own are stale
    /// there, and asking would stop a vhost-user back-end's ring). QEMU is asked only right after
    /// its own x-query-virtio-status says the device's vhost is stopped (asked again when this
    /// client's last answer is older than ``QMPClient/vhostKnowledgeNanoseconds``); a vhost that
    /// started since the list was made gives nil too.
    public static func deviceState(client: QMPClient, queue: Virtqueue) throws(QMPError) -> DeviceQueueState? {
        guard queue.backend == .qemu, try client.vhostStoppedNow(path: queue.path) else { return nil }
        let q = try client.execute("x-query-virtio-queue-status",
                                   arguments: .object([("path", .string(queue.path)), ("queue", .int(Int64(queue.index)))]))
        guard q["used-idx"] != nil, q["last-avail-idx"] != nil else {
            throw .garbage(path: client.path, reason: "x-query-virtio-queue-status gave no indexes for \(queue.path) queue \(queue.index)")
        }
        return deviceState(from: q)
    }

    /// The device-side indexes in one `x-query-virtio-queue-status` reply (0 for a missing field).
    public static func deviceState(from q: JSON) -> DeviceQueueState {
        DeviceQueueState(
            lastAvailIndex: UInt16(truncatingIfNeeded: q["last-avail-idx"]?.uint64 ?? 0),
            shadowAvailIndex: UInt16(truncatingIfNeeded: q["shadow-avail-idx"]?.uint64 ?? 0),
            usedIndex: UInt16(truncatingIfNeeded: q["used-idx"]?.uint64 ?? 0),
            inUse: q["inuse"]?.int ?? 0)
    }

    /// Whether QEMU marked the virtio device at `path` broken (after a `virtio_error`, it stops
    /// processing the device's queues until the driver resets it).
    public static func isBroken(client: QMPClient, path: String) throws(QMPError) -> Bool {
        try client.execute("x-query-virtio-status", arguments: .object([("path", .string(path))]))["broken"]?.bool ?? false
    }
}

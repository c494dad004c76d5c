/// QEMU's live view of one virtio device and its queues, asked again over QMP (QEMU 7.2+): the
/// device-side indexes of one queue (`x-query-virtio-queue-status`) and whether the device is
/// broken (`x-query-virtio-status`). ``QMPVirtioSource`` lists devices; this re-reads one.
public enum QMPQueueStatus {
    /// QEMU's indexes of queue `index` of the virtio backend at QOM path `path`.
    public static func deviceState(client: QMPClient, path: String, index: Int) throws(QMPError) -> DeviceQueueState {
        let q = try client.execute("x-query-virtio-queue-status",
                                   arguments: .object([("path", .string(path)), ("queue", .int(Int64(index)))]))
        guard q["used-idx"] != nil, q["last-avail-idx"] != nil else {
            throw .garbage(path: client.path, reason: "x-query-virtio-queue-status gave no indexes for \(path) queue \(index)")
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

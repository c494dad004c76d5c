/// An event a virtio-vsock device writes into a buffer of its event queue (virtio 1.2, 5.10.6.4):
/// `virtio_vsock_event` (id u32; 0 VIRTIO_VSOCK_EVENT_TRANSPORT_RESET).
public struct VirtioVsockEvent: Sendable, Hashable {
    public var id: UInt32

    /// Decodes the event; nil when fewer than 4 bytes were written.
    public init?(_ bytes: [UInt8]) {
        var r = PayloadReader(bytes)
        guard let id = r.u32() else { return nil }
        self.id = id
    }

    /// `vsock-event TRANSPORT_RESET`.
    public var summary: String { "vsock-event " + (id == 0 ? "TRANSPORT_RESET" : "id \(id)") }
}

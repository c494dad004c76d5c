/// A virtio-9p chain (virtio 9P transport, Linux net/9p/trans_virtio.c): the 9P request the
/// driver wrote in the device-readable part and, once the device used the chain, its reply at the
/// start of the device-writable part.
public struct VirtioNinePExchange: Sendable, Hashable {
    /// The request (T-message), nil when fewer than its 7 header bytes were there.
    public var request: NinePMessage?
    /// The reply (R-message), once used.
    public var reply: NinePMessage?
    /// Whether the device used the chain (its reply may still be too short to decode).
    public var completed: Bool

    /// Decodes the request from the first readable bytes (`readableLength` in all) and the reply
    /// from the first bytes the device wrote (`written`, nil while in flight).
    public init(readable: [UInt8], readableLength: UInt64, written: [UInt8]?, writtenLength: UInt64) {
        request = NinePMessage(readable, bufferLength: readableLength)
        reply = written.flatMap { NinePMessage($0, bufferLength: writtenLength) }
        completed = written != nil
    }

    /// `9p Tread tag 3 fid 2 offset 0 count 4096 → Rread tag 3 count 120`.
    public var summary: String {
        var s = "9p " + (request?.summary ?? "request too short for a 9P header")
        if completed { s += " → " + (reply?.summary ?? "reply too short for a 9P header") }
        return s
    }
}

/// A virtio-gpu chain on the control or cursor queue (virtio 1.2, 5.7.6): the command header the
/// driver wrote and, once the device used the chain, the response header.
public struct VirtioGPUExchange: Sendable, Hashable {
    public var command: VirtioGPUControlHeader?
    public var response: VirtioGPUControlHeader?
    /// Whether the device used the chain.
    public var completed: Bool
    /// A command or response too short for its header.
    public var defect: PayloadDefect?

    /// Decodes the command from the first readable bytes and the response from the first bytes the
    /// device wrote (`written`, nil while in flight).
    public init(readable: [UInt8], written: [UInt8]?) {
        command = VirtioGPUControlHeader(readable)
        if command == nil { defect = .truncated(needed: VirtioGPUControlHeader.size, present: readable.count) }
        completed = written != nil
        guard let written else { return }
        response = VirtioGPUControlHeader(written)
        if response == nil { defect = defect ?? .truncated(needed: VirtioGPUControlHeader.size, present: written.count) }
    }

    /// `gpu RESOURCE_FLUSH fence 12 → OK_NODATA fence 12`.
    public var summary: String {
        var s = "gpu " + (command?.summary ?? "command")
        if let response { s += " → " + response.summary }
        if let defect { s += " (\(defect))" }
        return s
    }
}

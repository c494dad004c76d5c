// Fuzz target: PayloadDecoder.decode (virtio-blk, virtio-net, console, rng...) of a chain whose
// buffers lie in the input's guest RAM.
//
// Input: [0] device (mod the list below), [1] queue index, [2] queue count - 1 (mod 8), [3]
// options: bit 0 a completed length, bit 1 VIRTIO_F_VERSION_1; [4..8) the completed length; [8]
// element count (mod 8); per element 7 bytes: address (u32), length (u16), writable (bit 0); then
// guest RAM from guest-physical 0.
import VQCore

let devices = ["virtio-blk", "virtio-net", "virtio-serial", "virtio-console", "virtio-rng", "virtio-gpu", "virtio-scsi", ""]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let device = devices[Int(input.u8()) % devices.count]
    let queueIndex = Int(input.u8())
    let queueCount = 1 + Int(input.u8()) % 8
    let options = input.u8()
    let completed = input.u32()
    var elements: [Chain.Element] = []
    for i in 0..<Int(input.u8()) % 8 {
        let address = input.u32(), length = input.u16(), flags = input.u8()
        elements.append(Chain.Element(index: UInt16(i), address: GuestPhysicalAddress(UInt64(address)), length: UInt32(length), isWritable: flags & 1 != 0))
    }
    let chain = Chain(head: 0, elements: elements,
                      readableBytes: elements.filter { !$0.isWritable }.reduce(0) { $0 + UInt64($1.length) },
                      writableBytes: elements.filter(\.isWritable).reduce(0) { $0 + UInt64($1.length) }, ringDescriptors: elements.count)
    let memory = FuzzGuest.memory(input.rest())
    let payload = PayloadDecoder.decode(chain, device: device, queueIndex: queueIndex % queueCount, queueCount: queueCount, memory: memory,
                                        completedLength: options & 1 != 0 ? completed : nil,
                                        features: options & 2 != 0 ? [.version1] : [])
    if let payload {
        let summary = payload.summary
        require(!summary.isEmpty && summary.count < 400, "summary \(summary.debugDescription)")
        require(!summary.contains("\n"), "summary on several lines: \(summary.debugDescription)")
    }
    return 0
}

// Fuzz target: PayloadDecoder.decode (virtio-blk, virtio-net, console and its control messages,
// rng, virtio-gpu, virtio-scsi, 9P, virtio-input, virtio-balloon, vsock, virtio-fs) of a chain whose
// buffers lie in the input's guest RAM.
//
// Input: [0] device (mod the list below), [1] queue index (mod the queue count), [2] queue count - 1
// (mod 8), [3] options: bit 0 a completed length, bit 1 VIRTIO_F_VERSION_1, bit 2
// VIRTIO_SCSI_F_T10_PI, bits 3-5 VIRTIO_BALLOON_F_STATS_VQ, FREE_PAGE_HINT, REPORTING; [4..8) the
// completed length; [8] element count (mod 8); per element 7 bytes: address (u32), length (u16),
// writable (bit 0); then guest RAM from guest-physical 0.
import VQCore

let devices = ["virtio-blk", "virtio-net", "virtio-serial", "virtio-console", "virtio-rng", "virtio-gpu", "virtio-scsi", "",
               "virtio-9p", "virtio-input", "virtio-balloon", "vhost-vsock", "vhost-user-fs"]

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
                                        features: features(options))
    if let payload {
        let summary = payload.summary
        require(!summary.isEmpty && summary.count < 400, "summary \(summary.debugDescription)")
        require(!summary.contains("\n"), "summary on several lines: \(summary.debugDescription)")
        checkBounds(payload, chain: chain)
    }
    return 0
}

/// The negotiated features the options byte gives.
func features(_ options: UInt8) -> VirtioFeatures {
    var f: VirtioFeatures = []
    if options & 2 != 0 { f.insert(.version1) }
    if options & 4 != 0 { f.insert(.scsiProtectionInformation) }
    if options & 8 != 0 { f.insert(.balloonStatistics) }
    if options & 16 != 0 { f.insert(.balloonFreePageHint) }
    if options & 32 != 0 { f.insert(.balloonReporting) }
    return f
}

/// What a decoder keeps may not grow with the lengths the guest wrote: the lists it keeps stay
/// within their caps, and what it read stays within the chain's bytes.
func checkBounds(_ payload: DevicePayload, chain: Chain) {
    switch payload {
    case .scsiCommand(let c):
        require((c.request?.cdb.bytes.count ?? 0) <= VirtioSCSICommand.defaultCDBSize, "CDB of \(c.request?.cdb.bytes.count ?? 0) bytes")
        require(c.dataOut <= chain.readableBytes && c.dataIn <= chain.writableBytes, "data lengths past the chain")
    case .nineP(let x):
        for m in [x.request, x.reply].compactMap({ $0 }) {
            if case .walk(_, _, _, let names) = m.body { require(names.count <= NinePMessage.maxNamesShown, "\(names.count) walk names") }
        }
    case .input(let e):
        require(e.events.count <= VirtioInputEvents.maxEvents, "\(e.events.count) input events")
    case .balloon(.pages(let p)):
        require(p.firstFrames.count <= VirtioBalloonMessage.PageList.maxShown, "\(p.firstFrames.count) PFNs kept")
        require(UInt64(p.count) <= chain.readableBytes / 4, "more PFNs than the buffer holds")
    case .balloon(.statistics(let st)):
        require(st.entries.count <= VirtioBalloonMessage.Statistics.maxEntries, "\(st.entries.count) statistics kept")
    case .consoleControl(let c):
        require((c.name?.count ?? 0) <= 65, "port name of \(c.name?.count ?? 0) characters")
    default:
        break
    }
}

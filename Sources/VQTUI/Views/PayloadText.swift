import VQCore

/// A decoded device header as the hexdump pane shows it above the bytes.
enum PayloadText {
    static func lines(_ payload: DevicePayload) -> [StyledLine] {
        switch payload {
        case .block(let r):
            var line = StyledLine([Span("virtio-blk ", .title), Span(r.typeName, CellStyle(.accent, bold: true)),
                                   Span(" · sector ", .dim), Span(String(r.sector)), Span(" · data ", .dim),
                                   Span(Hex.humanSize(r.dataLength))])
            if let status = r.statusName {
                line.append(" · status ", .dim)
                line.append(status, r.status == 0 ? .good : .error)
            } else {
                line.append(" · status pending", .dim)
            }
            return [line]
        case .network(let p):
            var header = StyledLine([Span("virtio-net hdr ", .title)])
            header.append("flags \(TextFormat.hex(p.flags)) gso \(p.gsoType)/\(p.gsoSize) hdr_len \(p.headerLength) csum \(p.csumStart)+\(p.csumOffset) num_buffers \(p.numBuffers)")
            var frame = StyledLine([Span("frame ", .dim), Span("\(p.frameLength) bytes")])
            if let f = p.frame { frame.append(" · " + f.summary, .accent) }
            return [header, frame]
        case .console(let text):
            return [StyledLine([Span("console ", .title), Span("\"\(text)\"", .accent)])]
        case .entropy(let bytes):
            return [StyledLine([Span("rng ", .title), Span("\(bytes.count) bytes of entropy")])]
        case .scsiCommand, .scsiControl, .scsiEvent:
            return titled("virtio-scsi", payload)
        case .nineP:
            return titled("virtio-9p", payload)
        case .input:
            return titled("virtio-input", payload)
        case .balloon:
            return titled("virtio-balloon", payload)
        case .consoleControl:
            return titled("virtio-serial", payload)
        case .socketPacket, .socketEvent:
            return titled("virtio-vsock", payload)
        case .fileSystem:
            return titled("virtio-fs", payload)
        case .gpu:
            return titled("virtio-gpu", payload)
        case .undecodable:
            return [StyledLine([Span(payload.summary, .error)])]
        }
    }

    /// The device's name, then the payload's summary.
    private static func titled(_ device: String, _ payload: DevicePayload) -> [StyledLine] {
        [StyledLine([Span(device + " ", .title), Span(payload.summary, .accent)])]
    }
}

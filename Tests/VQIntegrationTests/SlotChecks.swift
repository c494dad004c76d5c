import Foundation
import VQCore
import XCTest

/// Checks shared by every bench guest: vqscope's answers against QEMU's own (gpa2hva, gpa2hpa)
/// and against an independent read of the same memory.
enum SlotChecks {
    /// Guest-physical addresses worth probing in a slot: its first byte, a middle page, its last byte.
    static func probes(_ slot: MemorySlot) -> [UInt64] {
        let start = slot.guest.rawValue
        let middle = start + (slot.size / 2) / 4096 * 4096 + 0x123
        return [start, min(middle, slot.guestEnd - 1), slot.guestEnd - 1]
    }

    /// Every slot of `map` agrees with QEMU's gpa2hva at its first, middle and last byte.
    static func slotsMatchQEMU(_ map: SlotMap, _ guest: BenchGuest, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertFalse(map.slots.isEmpty, "empty slot map", file: file, line: line)
        var checked = 0
        for slot in map.slots {
            for gpa in probes(slot) {
                let ours = map.hostAddress(of: GuestPhysicalAddress(gpa))
                let qemu = try guest.gpa2hva(gpa)
                XCTAssertEqual(ours, qemu, "\(slot.name) gpa \(Hex.string(gpa)): vqscope \(ours.map(Hex.string) ?? "none"), QEMU \(qemu.map(Hex.string) ?? "none")", file: file, line: line)
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 3, file: file, line: line)
    }

    /// Addresses QEMU says hold no RAM are not translated by vqscope either, and say why.
    static func unmappedAgree(_ map: SlotMap, _ guest: BenchGuest, extra: [UInt64] = [], file: StaticString = #filePath, line: UInt = #line) throws {
        let ramEnd = map.slots.map(\.guestEnd).max() ?? 0
        var addresses = extra + [ramEnd, ramEnd + 0x1000_0000, 0xFEC0_0000 /* ioapic */, 0xFED0_0000 /* hpet */, 0xFFFF_FFFF_FFFF_F000]
        addresses += map.holes.prefix(20).map(\.guest.rawValue)
        for gpa in addresses {
            let qemu = try guest.gpa2hva(gpa)
            let ours = map.hostAddress(of: GuestPhysicalAddress(gpa))
            if qemu == nil {
                XCTAssertNil(ours, "\(Hex.string(gpa)): QEMU maps nothing there, vqscope says \(ours.map(Hex.string) ?? "")", file: file, line: line)
                XCTAssertFalse(map.reasonUnmapped(GuestPhysicalAddress(gpa)).isEmpty, file: file, line: line)
            } else if let ours {
                XCTAssertEqual(ours, qemu, "\(Hex.string(gpa))", file: file, line: line)
            }
        }
    }

    /// Every RAM range QEMU's flat view shows outside the legacy window is covered by `map`
    /// (maps and kvm sources must not miss RAM).
    static func coversRAM(_ map: SlotMap, reference: SlotMap, file: StaticString = #filePath, line: UInt = #line) {
        for slot in reference.slots where slot.kind == .ram && slot.name == "pc.ram" {
            for gpa in probes(slot) where gpa < 0xA0000 || gpa >= 0x100000 {
                XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(gpa)), reference.hostAddress(of: GuestPhysicalAddress(gpa)),
                               "RAM at \(Hex.string(gpa)) (\(slot.name))", file: file, line: line)
            }
        }
    }

    /// Host-physical addresses from the page map equal QEMU's gpa2hpa, for pages QEMU resolved.
    static func hostPhysicalMatchesQEMU(_ target: Target, _ guest: BenchGuest, addresses: [UInt64], file: StaticString = #filePath, line: UInt = #line) throws {
        let lookup = try HostPhysicalLookup(pid: guest.pid)
        for gpa in addresses {
            guard let qemu = try guest.gpa2hpa(gpa) else {
                XCTFail("QEMU gives no host-physical address for \(Hex.string(gpa))", file: file, line: line); continue
            }
            guard let hva = target.memory.map.hostAddress(of: GuestPhysicalAddress(gpa)) else {
                XCTFail("vqscope does not translate \(Hex.string(gpa))", file: file, line: line); continue
            }
            let ours = lookup.lookup([HostVirtualAddress(hva)])[0]
            XCTAssertEqual(try? ours.get().rawValue, qemu, "hpa of \(Hex.string(gpa)): \(ours)", file: file, line: line)
        }
    }

    /// Reads through vqscope equal a plain read of /proc/PID/mem at QEMU's gpa2hva, on a paused guest.
    static func readsMatchIndependentRead(_ target: Target, _ guest: BenchGuest, addresses: [UInt64], length: Int = 65536,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        try guest.paused {
            let mem = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(guest.pid)/mem"))
            defer { try? mem.close() }
            for gpa in addresses {
                guard let hva = try guest.gpa2hva(gpa) else { XCTFail("QEMU: no hva for \(Hex.string(gpa))", file: file, line: line); continue }
                try mem.seek(toOffset: hva)
                let plain = [UInt8](try mem.read(upToCount: length) ?? Data())
                let ours = try target.memory.bytes(at: GuestPhysicalAddress(gpa), count: length)
                XCTAssertEqual(plain.count, length, file: file, line: line)
                XCTAssertTrue(ours == plain, "bytes at \(Hex.string(gpa)) differ", file: file, line: line)
            }
        }
    }
}

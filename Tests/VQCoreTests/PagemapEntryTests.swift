import Glibc
import XCTest
@testable import VQCore

final class PagemapEntryTests: XCTestCase {
    private let presentBit: UInt64 = 1 << 63
    private let swappedBit: UInt64 = 1 << 62
    private let pfnMask: UInt64 = (1 << 55) - 1

    private func hva(_ value: UInt64) -> HostVirtualAddress { HostVirtualAddress(value) }

    func testNotPresent() {
        let e = PagemapEntry(raw: 0)
        XCTAssertFalse(e.present)
        XCTAssertFalse(e.swapped)
        XCTAssertEqual(e.frame, 0)
        XCTAssertEqual(e.hostPhysical(of: hva(0x7f00_0000_1234)), .failure(.notResident))
    }

    func testPresentFrame() {
        let e = PagemapEntry(raw: presentBit | 0x12345)
        XCTAssertTrue(e.present)
        XCTAssertFalse(e.swapped)
        XCTAssertEqual(e.frame, 0x12345)
        XCTAssertEqual(e.hostPhysical(of: hva(0x7f00_0000_0abc)), .success(HostPhysicalAddress(0x1234_5abc)))
        XCTAssertEqual(e.hostPhysical(of: hva(0x7f00_0000_0000)), .success(HostPhysicalAddress(0x1234_5000)))
        XCTAssertEqual(e.hostPhysical(of: hva(0x7f00_0000_0fff)), .success(HostPhysicalAddress(0x1234_5fff)))
    }

    func testFlagBitsAreNotPartOfTheFrame() {
        // Bit 55 soft-dirty, 56 exclusively mapped, 57 uffd-wp, 58 guard region, 61 file/shared.
        let flags: UInt64 = 1 << 55 | 1 << 56 | 1 << 57 | 1 << 58 | 1 << 61
        let e = PagemapEntry(raw: presentBit | flags | 0xabcde)
        XCTAssertTrue(e.present)
        XCTAssertFalse(e.swapped)
        XCTAssertEqual(e.frame, 0xabcde)
        XCTAssertEqual(e.hostPhysical(of: hva(0x10)), .success(HostPhysicalAddress(0xab_cde0_10)))
    }

    func testFrameHiddenWithoutCapability() {
        let e = PagemapEntry(raw: presentBit)
        XCTAssertTrue(e.present)
        XCTAssertEqual(e.frame, 0)
        XCTAssertEqual(e.hostPhysical(of: hva(0x1000)), .failure(.frameHidden))
        // Flags set, frame zeroed (what an unprivileged reader sees).
        XCTAssertEqual(PagemapEntry(raw: presentBit | 1 << 61 | 1 << 56).hostPhysical(of: hva(0x1000)), .failure(.frameHidden))
    }

    func testSwapped() {
        // Swap type in bits 0-4, offset in bits 5-54: not a frame.
        let e = PagemapEntry(raw: swappedBit | 0x3 | 0x1234 << 5)
        XCTAssertTrue(e.swapped)
        XCTAssertFalse(e.present)
        XCTAssertEqual(e.frame, 0)
        XCTAssertEqual(e.hostPhysical(of: hva(0x1000)), .failure(.swapped))
        XCTAssertEqual(PagemapEntry(raw: presentBit | swappedBit | 5).hostPhysical(of: hva(0)), .failure(.swapped))
    }

    func testOtherPageSizes() {
        let e = PagemapEntry(raw: presentBit | 3)
        XCTAssertEqual(e.hostPhysical(of: hva(0x7f00_0001_2345), pageSize: 65536), .success(HostPhysicalAddress(0x3_2345)))
        XCTAssertEqual(e.hostPhysical(of: hva(0x7f00_0001_2345), pageSize: 16384), .success(HostPhysicalAddress(0xE345)))
    }

    func testLargestFrameDoesNotTrap() {
        // A frame number no machine has: the multiplication would overflow 64 bits.
        let e = PagemapEntry(raw: presentBit | pfnMask)
        XCTAssertEqual(e.frame, pfnMask)
        XCTAssertEqual(e.hostPhysical(of: hva(0x1000)), .failure(.unreadable("frame 0x7fffffffffffff is out of range")))
        XCTAssertEqual(PagemapEntry(raw: presentBit | 1 << 52).hostPhysical(of: hva(0)),
                       .failure(.unreadable("frame 0x10000000000000 is out of range")))
        // The largest frame that fits is still translated.
        let fits = PagemapEntry(raw: presentBit | (UInt64.max >> 12))
        XCTAssertEqual(fits.hostPhysical(of: hva(0xfff)), .success(HostPhysicalAddress(.max)))
    }

    func testErrorDescriptions() {
        XCTAssertEqual(PagemapError.notResident.description, "page not resident (never touched, or reclaimed)")
        XCTAssertEqual(PagemapError.swapped.description, "page swapped out")
        XCTAssertEqual(PagemapError.frameHidden.description,
                       "frame number hidden: reading host-physical addresses needs CAP_SYS_ADMIN (root)")
        XCTAssertEqual(PagemapError.unreadable("EIO").description, "pagemap unreadable: EIO")
    }

    // MARK: The page map of this process

    func testOwnPagemap() throws {
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let count = Int(pageSize) * 3
        guard let raw = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
            return XCTFail("mmap failed")
        }
        defer { munmap(raw, count) }
        let base = UInt64(UInt(bitPattern: raw))
        raw.storeBytes(of: 0x5a, toByteOffset: 0, as: UInt8.self)                  // touch page 0
        raw.storeBytes(of: 0x5a, toByteOffset: 2 * Int(pageSize), as: UInt8.self)  // and page 2, not page 1

        let pagemap = try Pagemap(pid: getpid())
        XCTAssertEqual(pagemap.pid, getpid())
        let entries = try pagemap.entries(for: [hva(base), hva(base + pageSize + 7), hva(base + 2 * pageSize + pageSize - 1)])
        XCTAssertEqual(entries.count, 3)
        XCTAssertEqual(entries.map(\.present), [true, false, true])
        XCTAssertEqual(entries[1].hostPhysical(of: hva(base + pageSize)), .failure(.notResident))
        // With CAP_SYS_ADMIN the frames are real and distinct; without, hidden.
        if entries[0].frame != 0 {
            XCTAssertNotEqual(entries[0].frame, entries[2].frame)
            XCTAssertEqual(entries[0].hostPhysical(of: hva(base + 5)), .success(HostPhysicalAddress(entries[0].frame * pageSize + 5)))
        } else {
            XCTAssertEqual(entries[0].hostPhysical(of: hva(base)), .failure(.frameHidden))
        }
        XCTAssertEqual(try pagemap.entries(for: []), [])
    }

    func testPagemapOfMissingProcess() {
        XCTAssertThrowsError(try Pagemap(pid: 0x7fff_fff0)) { error in
            XCTAssertEqual(error as? TargetError, .cannotOpen(path: "/proc/2147483632/pagemap", errno: ENOENT))
        }
    }
}

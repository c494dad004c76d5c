import Foundation
import XCTest

/// A test class whose tests share one bench guest, booted once for the class and shut down after
/// it. Subclasses name the variant; a boot failure fails every test of the class with its reason.
class GuestTestCase: XCTestCase {
    class var variant: BenchGuest.Variant { .basic }
    class var packed: Bool { false }
    /// More QEMU arguments for the class's guest (run-guest.sh --extra, split on whitespace).
    class var extraArguments: [String] { [] }
    /// The guest's folder name instead of the variant's, for a class whose guest differs.
    class var tag: String? { nil }
    /// run-guest.sh's own options for the class's guest (`--intremap`).
    class var runGuestFlags: [String] { [] }
    /// Whether this machine can run the variant at all (a reason to skip when not).
    class var unavailableReason: String? { nil }

    nonisolated(unsafe) private static var guests: [String: Result<BenchGuest, Error>] = [:]
    private static var key: String { String(describing: self) }

    override class func setUp() {
        super.setUp()
        guard unavailableReason == nil else { return }
        guests[key] = Result { try BenchGuest(variant, extra: extraArguments, packed: packed, tag: tag, flags: runGuestFlags) }
    }

    override class func tearDown() {
        (try? guests[key]?.get())?.shutdown()
        guests[key] = nil
        super.tearDown()
    }

    var guest: BenchGuest {
        get throws {
            if let reason = Self.unavailableReason { throw XCTSkip(reason) }
            guard let result = Self.guests[Self.key] else { throw BenchError("the guest of \(Self.key) was not booted") }
            return try result.get()
        }
    }
}

import Foundation
import Glibc
@testable import VQCore
import XCTest

/// A process's pidfd says it ended once it exited, reaped or not, and not before.
final class ProcessDescriptorTests: XCTestCase {
    func testAPidfdSaysAProcessEndedOnlyAfterItExited() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { if child.isRunning { child.terminate() } }
        guard case .success(let fd) = Sys.openProcess(child.processIdentifier) else { return XCTFail("pidfd_open refused") }
        defer { Sys.close(fd) }
        XCTAssertFalse(Sys.processEnded(fd), "a sleeping child")
        XCTAssertTrue(Sys.isProcessAlive(child.processIdentifier))
        kill(child.processIdentifier, SIGKILL)
        // It ends within moments of the signal, before or after Foundation reaps it.
        var ended = false
        for _ in 0..<500 where !ended {
            ended = Sys.processEnded(fd)
            if !ended { usleep(10_000) }
        }
        XCTAssertTrue(ended, "killed: the pidfd says it ended")
        child.waitUntilExit()
        XCTAssertTrue(Sys.processEnded(fd), "reaped: still ended")
        XCTAssertFalse(Sys.isProcessAlive(child.processIdentifier))
    }

    func testNoProcessIsRefused() {
        // PIDs above the kernel's maximum (4194304 at most) are never in use.
        guard case .failure(let error) = Sys.openProcess(Int32.max) else { return XCTFail("a pidfd for no process") }
        XCTAssertEqual(error.rawValue, ESRCH)
    }
}

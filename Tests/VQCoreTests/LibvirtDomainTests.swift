import Foundation
import Glibc
import XCTest
@testable import VQCore

/// Telling a libvirt domain from its command line, and finding the monitor socket libvirt holds.
final class LibvirtDomainTests: XCTestCase {
    typealias Monitor = QEMUCommandLine.QMPMonitor

    private func parse(_ line: String) -> QEMUCommandLine {
        QEMUCommandLine(arguments: line.split(separator: " ").map(String.init))
    }

    // MARK: Detection

    func testTheRealDomainsAreLibvirtDomains() throws {
        let basic = try XCTUnwrap(LibvirtDomain(commandLine: QEMUCommandLine(arguments: LibvirtCommandLines.basic)))
        XCTAssertEqual(basic.name, "h15-basic")
        XCTAssertEqual(basic.uuid, "5e1a401f-1571-428a-9b04-61b85432b942")
        XCTAssertEqual(basic.monitor, Monitor(chardevID: "charmonitor", path: nil, fileDescriptor: 29))
        XCTAssertNil(basic.monitorSocketPath, "the command line alone has no path")
        XCTAssertNil(basic.connectionURI)
        for line in [LibvirtCommandLines.numa, LibvirtCommandLines.memfd, LibvirtCommandLines.maxmem] {
            let domain = LibvirtDomain(commandLine: QEMUCommandLine(arguments: line))
            XCTAssertNotNil(domain, line[2])
            XCTAssertEqual(domain?.monitor.fileDescriptor, 29)
        }
    }

    func testOtherQEMUsAreNot() {
        // The bench guest: a name, QMP on -qmp sockets.
        XCTAssertNil(LibvirtDomain(commandLine: parse("qemu-system-x86_64 -name vqscope-bench -qmp unix:/tmp/vq.sock,server=on,wait=off")))
        // A monitor handed over as a descriptor by something else than libvirt (another chardev id).
        XCTAssertNil(LibvirtDomain(commandLine: parse("qemu-system-x86_64 -name vm -chardev socket,id=mon0,fd=3 -mon chardev=mon0,mode=control")))
        // libvirt's chardev id, but no name.
        XCTAssertNil(LibvirtDomain(commandLine: parse("qemu-system-x86_64 -chardev socket,id=charmonitor,fd=3 -mon chardev=charmonitor,mode=control")))
        // A readline monitor is not QMP.
        XCTAssertNil(LibvirtDomain(commandLine: parse("qemu-system-x86_64 -name vm -chardev socket,id=charmonitor,fd=3 -mon chardev=charmonitor")))
    }

    /// Older libvirt named the monitor's path on the command line; libvirt holds it all the same.
    func testOlderLibvirtMonitorOnAPath() throws {
        let q = parse("qemu-system-x86_64 -name guest=fedora,debug-threads=on -uuid 0d4c0b7c-5b2c-4a8e-9d0e-2f4c1a5e6b7d "
            + "-chardev socket,id=charmonitor,path=/var/lib/libvirt/qemu/domain-1-fedora/monitor.sock,server=on,wait=off "
            + "-mon chardev=charmonitor,id=monitor,mode=control")
        let domain = try XCTUnwrap(LibvirtDomain(commandLine: q))
        XCTAssertEqual(domain.monitorSocketPath, "/var/lib/libvirt/qemu/domain-1-fedora/monitor.sock")
        XCTAssertEqual(domain.connectionURI, "qemu:///system")
        XCTAssertEqual(q.qmpSockets, ["/var/lib/libvirt/qemu/domain-1-fedora/monitor.sock"])
        XCTAssertEqual(QMPAccess(commandLine: q, libvirtDomain: domain), .libvirt(domain), "libvirt's socket is not vqscope's to use")
    }

    func testJSONMonitorOptions() throws {
        let q = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-name", #"{"guest":"vm9"}"#,
                                            "-chardev", #"{"backend":"socket","id":"charmonitor","fd":31}"#,
                                            "-mon", #"{"chardev":"charmonitor","id":"monitor","mode":"control"}"#])
        XCTAssertEqual(q.qmpMonitors, [Monitor(chardevID: "charmonitor", path: nil, fileDescriptor: 31)])
        XCTAssertEqual(LibvirtDomain(commandLine: q)?.name, "vm9")
    }

    // MARK: How vqscope reaches QMP

    func testQMPAccess() throws {
        let basicLine = QEMUCommandLine(arguments: LibvirtCommandLines.basic)
        let basic = try XCTUnwrap(LibvirtDomain(commandLine: basicLine))
        let access = QMPAccess(commandLine: basicLine, libvirtDomain: basic)
        XCTAssertEqual(access, .libvirt(basic))
        XCTAssertEqual(access.kind, "libvirt")
        XCTAssertEqual(access.socketPaths, [])

        // A domain given a QMP socket of its own (<qemu:commandline>): vqscope uses that.
        let ownLine = QEMUCommandLine(arguments: LibvirtCommandLines.basic + ["-qmp", "unix:/run/vq-h15.sock,server=on,wait=off"])
        let own = QMPAccess(commandLine: ownLine, libvirtDomain: LibvirtDomain(commandLine: ownLine))
        XCTAssertEqual(own, .sockets(["/run/vq-h15.sock"]))
        XCTAssertEqual(own.kind, "socket")

        let bench = parse("qemu-system-x86_64 -qmp unix:vq.sock,server=on,wait=off -qmp unix:/tmp/b.sock")
        XCTAssertEqual(QMPAccess(commandLine: bench, libvirtDomain: nil, workingDirectory: "/home/u"), .sockets(["/home/u/vq.sock", "/tmp/b.sock"]))
        XCTAssertEqual(QMPAccess(commandLine: bench, libvirtDomain: nil, workingDirectory: "/"), .sockets(["/vq.sock", "/tmp/b.sock"]))
        let none = QMPAccess(commandLine: parse("qemu-system-x86_64 -m 1G"), libvirtDomain: nil)
        XCTAssertEqual(none, .none)
        XCTAssertEqual(none.kind, "none")
    }

    func testHeldMonitorMessageSaysWhatToDo() throws {
        var domain = try XCTUnwrap(LibvirtDomain(commandLine: QEMUCommandLine(arguments: LibvirtCommandLines.basic)))
        XCTAssertTrue(domain.heldMonitorMessage.hasPrefix("libvirt domain 'h15-basic' holds QEMU's only QMP monitor (a socket handed over as fd 29): "),
                      domain.heldMonitorMessage)
        domain.monitorSocketPath = "/var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock"
        XCTAssertTrue(domain.heldMonitorMessage.contains("(/var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock)"), domain.heldMonitorMessage)
        XCTAssertTrue(domain.heldMonitorMessage.contains("<qemu:commandline> with -qmp unix:PATH,server=on,wait=off"), domain.heldMonitorMessage)
        XCTAssertTrue(domain.heldMonitorMessage.hasSuffix("or use --no-qmp"), domain.heldMonitorMessage)
    }

    // MARK: Finding the monitor's socket

    func testUnixSocketTable() {
        let table = UnixSocketTable(parsing: LibvirtCommandLines.basicUnixSockets)
        let path = "/var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock"
        XCTAssertEqual(table.paths, [33048: path, 32337: path], "the unbound socket has no path")
        XCTAssertEqual(UnixSocketTable.socketInode(link: LibvirtCommandLines.basicMonitorLink), 33048)
        XCTAssertEqual(UnixSocketTable(parsing: "Num ...\n0: 2 0 10000 1 01 7 /tmp/with two  spaces\n0: 2 0 10000 1 01 8 @abstract\n").paths,
                       [7: "/tmp/with two  spaces", 8: "@abstract"])
        XCTAssertEqual(UnixSocketTable(parsing: "0: 2 0 10000 1 01 7 /header/line/is/skipped\n").paths, [:])
        // A path with a newline that forges a line for the monitor's inode: the inode is left out.
        let forged = LibvirtCommandLines.basicUnixSockets
            + "\n00000000deadbeef: 00000002 00000000 00010000 0001 01 1 /tmp/x\n0: 00000002 00000000 00010000 0001 01 33048 /tmp/evil.sock"
        XCTAssertNil(UnixSocketTable(parsing: forged).paths[33048])
        XCTAssertEqual(UnixSocketTable(parsing: forged).paths[32337], path)
        // An unbound socket's line still counts as its inode's one line.
        XCTAssertNil(UnixSocketTable(parsing: "h\n0: 2 0 0 1 03 9\n0: 2 0 0 1 01 9 /forged\n").paths[9])
        XCTAssertEqual(UnixSocketTable(parsing: "h\n0: 2 0 x\n0: 2 0 10000 1 01 notanumber /p\n\n").paths, [:])
        for link in ["pipe:[32333]", "/dev/null", "socket:[]", "socket:[12", "socket:[-1]", "anon_inode:[eventfd]"] {
            XCTAssertNil(UnixSocketTable.socketInode(link: link), link)
        }
    }

    func testStatusFile() {
        let status = LibvirtStatusFile(parsing: LibvirtCommandLines.basicStatusFile)
        XCTAssertEqual(status.pid, 8365)
        XCTAssertEqual(status.monitorPath, "/var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock")
        XCTAssertEqual(status.name, "h15-basic")
        XCTAssertEqual(status.uuid, "5e1a401f-1571-428a-9b04-61b85432b942")

        let odd = LibvirtStatusFile(parsing: """
            <!-- <monitor path='/in/a/comment' type='unix'/> <name>no</name> -->
            <domstatus state='running' xpid='1' pid="42">
              <monitor type='pty' path='/dev/pts/3'/>
            </domstatus>
            """)
        XCTAssertEqual(odd.pid, 42, "xpid= is another attribute")
        XCTAssertNil(odd.monitorPath, "a monitor that is not a Unix socket")
        XCTAssertNil(odd.name, "a name in a comment")
        let escaped = LibvirtStatusFile(parsing: "<domstatus pid='7'><monitor path='/run/a&apos;b&amp;c.sock' type='unix'/><domain><name>a&lt;b</name></domain></domstatus>")
        XCTAssertEqual(escaped.monitorPath, "/run/a'b&c.sock")
        XCTAssertEqual(escaped.name, "a<b")
        XCTAssertEqual(LibvirtStatusFile(parsing: "<domstatus pid='x'>"), LibvirtStatusFile(parsing: ""))
        XCTAssertNil(LibvirtStatusFile(parsing: "<monitor path='/unterminated").monitorPath)
    }

    /// `locate` finds the path behind the monitor's descriptor through /proc, as for a domain:
    /// here in this very process, on a socket this test listens on.
    func testLocateFindsTheSocketBehindTheDescriptor() throws {
        let (path, listener) = try QMPClientTests.listen("vqscope-libvirt")
        defer { close(listener); unlink(path) }
        let line = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-name", "guest=vm-here,debug-threads=on",
                                               "-chardev", "socket,id=charmonitor,fd=\(listener),server=on,wait=off",
                                               "-mon", "chardev=charmonitor,id=monitor,mode=control"])
        let domain = try XCTUnwrap(LibvirtDomain.locate(pid: getpid(), commandLine: line))
        XCTAssertEqual(domain.name, "vm-here")
        XCTAssertEqual(domain.monitorSocketPath, path)
        XCTAssertEqual(domain.connectionURI, "qemu:///session")
        // A descriptor that is not a socket (stdin here, or none) leaves the path unknown.
        let notSocket = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-name", "vm-x",
                                                    "-chardev", "socket,id=charmonitor,fd=99999", "-mon", "chardev=charmonitor,mode=control"])
        XCTAssertNil(try XCTUnwrap(LibvirtDomain.locate(pid: getpid(), commandLine: notSocket)).monitorSocketPath)
        XCTAssertNil(LibvirtDomain.locate(pid: getpid(), commandLine: QEMUCommandLine(arguments: ["qemu-system-x86_64"])))
    }
}

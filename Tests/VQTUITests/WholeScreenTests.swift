import VQCore
@testable import VQTUI
import XCTest

/// Whole screens at 80×24, line by line (ratatui's `assert_buffer_lines`): one per view of the
/// split virtio-blk queue, the packed virtio-net queue's descriptor ring and the help overlay, beside
/// the substring checks of the other tests. A change to any line of a screen shows here as the two
/// screens side by side; update the expected lines only after reading the new screen.
final class WholeScreenTests: InspectorTestCase {
    /// Asserts every line of `grid` (trailing spaces aside) against `expected`, one per row.
    func assertScreen(_ grid: ScreenGrid, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        let actual = (0..<grid.height).map { grid.line($0) }
        func trimmed(_ s: String) -> Substring { s[..<(s.lastIndex { $0 != " " }.map { s.index(after: $0) } ?? s.startIndex)] }
        guard actual.count != expected.count || zip(actual, expected).contains(where: { trimmed($0) != trimmed($1) }) else { return }
        let rows = (0..<max(actual.count, expected.count)).map { y -> String in
            let a = y < actual.count ? String(trimmed(actual[y])) : "(none)", e = y < expected.count ? String(trimmed(expected[y])) : "(none)"
            return (a == e ? "  " : "≠ ") + "\(y): " + a + (a == e ? "" : "\n     expected: " + e)
        }
        XCTFail("the screen differs (\(saved(grid, line: line))):\n" + rows.joined(separator: "\n"), file: file, line: line)
    }

    func testChainsScreenAt80x24() {
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│▶virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│ virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-blk:0 ╴ Desc │ Avail │ Used │ Chains │ Events │ Slots ╶───────────────┐",
            "│Chains 2 in flight (used.idx 1 → avail.idx 3) · 1 completed shown             │",
            "│ LIVE · in flight: the driver's buffers, as it made them available            │",
            "│ ▸ head 0    @1      LIVE  3 bufs R 16 B W 513 B  blk read sector 8 len 512   │",
            "│     #0      0x30000                  16  R                                   │",
            "│     #1      0x31000                 512  W                                   │",
            "│     #2      0x32000                   1  W                                   │",
            "│ ▸ head 3    @2      LIVE  3 bufs R 16 B W 4.0 KiB  blk write sector 99 len 4…│",
            "│     ind#0   0x30100                  16  R  from indirect table 0x33000      │",
            "│     ind#1   0x34000                4096  W  from indirect table 0x33000      ↓",
            "└ busy?: 2 requests in flight, the oldest (head 0) for 0.1 s (provisi…── 2/12 ─┘",
            "┌ Buffer · desc 0 · live chain @1 ─────────────────────────────────────────────┐",
            "│GPA 0x30000 → HVA 0x7f0000030000 (pc.ram) · 16 B · device-readable            │",
            "│virtio-blk read · sector 8 · data 512 B · status pending                      │",
            "│00030000  00 00 00 00 00 00 00 00  08 00 00 00 00 00 00 00 |................| │",
            "│                                                                              │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testEventsScreenAt80x24() {
        press(.tab)
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│▶virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│ virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-blk:0 ╴ Desc │ Avail │ Used │ Chains │ Events │ Slots ╶───────────────┐",
            "│Events of virtio-blk:0 · 0 shown · 0 seen  (a: all queues)                    │",
            "│      time  queue            event                                            │",
            "│ no events yet                                                                │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "└ busy?: 2 requests in flight, the oldest (head 0) for 0.1 s (provisional) ────┘",
            "┌ Buffer ──────────────────────────────────────────────────────────────────────┐",
            "│ select a descriptor, chain buffer or ring entry; g goes to an address        │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testSlotMapScreenAt80x24() {
        press(.tab, .tab)
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│▶virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│ virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-blk:0 ╴ Desc │ Avail │ Used │ Chains │ Events │ Slots ╶───────────────┐",
            "│Slot map 1 slot · 256 KiB of guest memory                                     │",
            "│  guest-physical   host-virtual                       size  name              │",
            "│  0x0-0x3ffff    → 0x7f0000000000-0x7f000003ffff   256 KiB  pc.ram            │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "│                                                                              │",
            "└ busy?: 2 requests in flight, the oldest (head 0) for 0.1 s (provisio…── 1/1 ─┘",
            "┌ Buffer · slot pc.ram ────────────────────────────────────────────────────────┐",
            "│GPA 0x0 → HVA 0x7f0000000000 (pc.ram) · 262144 B                              │",
            "│00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "│00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "│00000020  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testDescriptorsScreenAt80x24() {
        press(.tab, .tab, .tab)
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│▶virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│ virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-blk:0 ╴ Desc │ Avail │ Used │ Chains │ Events │ Slots ╶───────────────┐",
            "│Descriptor table at 0x10000 · 16 entries · 2 chains in flight                 │",
            "│    idx  addr                    len  flags               next  chain         │",
            "│      0  0x30000                  16  NEXT                  →1  live @1       │",
            "│      1  0x31000                 512  NEXT WRITE            →2  live @1       │",
            "│      2  0x32000                   1  WRITE                  -  live @1       │",
            "│      3  0x33000                  48  INDIRECT               -  live @2       │",
            "│      4  0x0                       0  -                      -                │",
            "│      5  0x35000                  64  WRITE                  -                │",
            "│      6  0x0                       0  -                      -                ↓",
            "└ busy?: 2 requests in flight, the oldest (head 0) for 0.1 s (provisi…── 1/16 ─┘",
            "┌ Buffer · desc 0 · live chain @1 ─────────────────────────────────────────────┐",
            "│GPA 0x30000 → HVA 0x7f0000030000 (pc.ram) · 16 B · device-readable            │",
            "│virtio-blk read · sector 8 · data 512 B · status pending                      │",
            "│00030000  00 00 00 00 00 00 00 00  08 00 00 00 00 00 00 00 |................| │",
            "│                                                                              │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testAvailRingScreenAt80x24() {
        press(.tab, .tab, .tab, .tab)
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│▶virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│ virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-blk:0 ╴ Desc │ Avail │ Used │ Chains │ Events │ Slots ╶───────────────┐",
            "│Available ring at 0x11000 · flags 0x0 · idx 3 · used_event 0                  │",
            "│in flight 2 (used.idx 1 → avail.idx 3)                                        │",
            "│   slot   head   position  state                                              │",
            "│      0      5          0  returned                                           │",
            "│      1      0          1  in flight                                          │",
            "│      2      3          2  in flight · newest                                 │",
            "│      3      0          -  never written  ◀ next                              │",
            "│      4      0          -  never written                                      │",
            "│      5      0          -  never written                                      ↓",
            "└ busy?: 2 requests in flight, the oldest (head 0) for 0.1 s (provisi…── 3/16 ─┘",
            "┌ Buffer · desc 3 · live chain @2 ─────────────────────────────────────────────┐",
            "│GPA 0x33000 → HVA 0x7f0000033000 (pc.ram) · 48 B · device-readable            │",
            "│virtio-blk write · sector 99 · data 4 KiB · status pending                    │",
            "│00033000  00 01 03 00 00 00 00 00  10 00 00 00 01 00 01 00 |................| │",
            "│00033010  00 40 03 00 00 00 00 00  00 10 00 00 03 00 02 00 |.@..............| │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testUsedRingScreenAt80x24() {
        press(.backTab)
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│▶virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│ virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-blk:0 ╴ Desc │ Avail │ Used │ Chains │ Events │ Slots ╶───────────────┐",
            "│Used ring at 0x11100 · flags 0x0 · idx 1 · avail_event 0                      │",
            "│entries before used.idx are completed chains: history; their descriptors may …│",
            "│   slot     id        len   position  state                                   │",
            "│      0      5         64          0  completed · newest                      │",
            "│      1      0          0          -  never written  ◀ next                   │",
            "│      2      0          0          -  never written                           │",
            "│      3      0          0          -  never written                           │",
            "│      4      0          0          -  never written                           │",
            "│      5      0          0          -  never written                           ↓",
            "└ busy?: 2 requests in flight, the oldest (head 0) for 0.1 s (provisi…── 1/16 ─┘",
            "┌ Buffer · desc 5 · completed @0 ──────────────────────────────────────────────┐",
            "│GPA 0x35000 → HVA 0x7f0000035000 (pc.ram) · 64 B · device-writable            │",
            "│completed chain: the buffer may have been reused since (stale)                │",
            "│00035000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "│00035010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testPackedDescriptorRingScreenAt80x24() {
        press(.down, .tab, .tab, .tab)
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌ Queues (2) ──────────────────────────────────────────────────────────────────┐",
            "│ queue             layout  size  avail   used in-fl  rate/s  health  backend …│",
            "│ virtio-blk:0      split     16      3      1     2       0  busy?   qemu    …│",
            "│▶virtio-net:0      packed     8    3w1    1w1     2       0  wait?   qemu    …│",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ virtio-net:0 ╴ Desc ring │ Driver │ Device │ Chains │ Events │ Slot map ╶────┐",
            "│Descriptor ring at 0x8000 · 8 slots · driver 3 (wrap 1) · device used 1 (wrap…│",
            "│   slot  addr                    len     id  flags                   state    │",
            "│      0  0x36000                 100      0  AVAIL USED              used w1  │",
            "│      1  0x37000                1514      1  AVAIL WRITE             avail w1…│",
            "│      2  0x38000                1514      2  AVAIL WRITE             avail w1 │",
            "│      3  0x0                       0      0  -                       used w0 …│",
            "│      4  0x0                       0      0  -                       used w0  │",
            "│      5  0x0                       0      0  -                       used w0  │",
            "│      6  0x0                       0      0  -                       used w0  ↓",
            "└ wait?: 2 buffers posted for the device to fill when data comes (prov…── 2/8 ─┘",
            "┌ Buffer · slot 1 · live chain at slot 1 ──────────────────────────────────────┐",
            "│GPA 0x37000 → HVA 0x7f0000037000 (pc.ram) · 1514 B · device-writable          │",
            "│00037000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "│00037010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "│00037020  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |................| │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }

    func testHelpScreenAt80x24() {
        press(.character("?"))
        assertScreen(frame(width: 80, height: 24), [
            " vqscope  pid 4242 (testvm, kvm, 256 KiB) slots qmp · 10 Hz · qmp socket  LIVE",
            "┌┌ Keys ──────────────────────────────────────────────────────────────────────┐┐",
            "││ Moving                                                                     ││",
            "││   ↑ ↓  k j     move the selection (queue list, view rows, hexdump lines)   ││",
            "││   ← →  h l     focus the pane to the left / right (queues, view, hexdump)  ││",
            "└│   PgUp PgDn    a page up / down                                            │┘",
            "┌│   Home End     first / last row (End in Events follows new ones)           │┐",
            "││   [ ]          previous / next queue                                       ││",
            "││   Tab BackTab  next / previous view: descriptors, avail, used, chains, ev… ││",
            "││   Enter        follow: queue → chains → descriptor → buffer; NEXT / INDIR… ││",
            "││   Backspace    go back where Enter came from                               ││",
            "││   x            hexdump the selected row's buffer                           ││",
            "││                                                                            ││",
            "││ Watching                                                                   ││",
            "││   space        freeze / unfreeze the display (polling goes on, nothing is… ││",
            "││   s            step: let the VM run until this queue moves, then pause it  │↓",
            "└│   c            continue the VM (or cancel a step)                          │┘",
            "┌│   + -          refresh faster / slower (1, 2, 5, 10, 20, 30 Hz)            │┐",
            "││   a            events of every queue / of this queue                       ││",
            "││   r            look for queues again                                       ││",
            "││                                                                            ││",
            "││ Finding                                                                    ││",
            "└└─ ↓ more · ↑↓ scroll · Esc closes ──────────────────────────────────────────┘┘",
            " q quit  ? help  Tab view  Enter follow  Bksp back  space freeze  s step",
        ])
    }
}

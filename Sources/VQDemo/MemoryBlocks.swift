import VQCore

/// The simulated machine's memory blocks, as QEMU names its RAM blocks: `pc.ram` (guest RAM, the
/// `-m` size), `pc.bios` (256 KiB of SeaBIOS image) and `pc.rom` (the 128 KiB option ROM area).
struct MemoryBlocks: Sendable {
    let ram: GuestRAM
    let bios: GuestRAM
    let optionROM: GuestRAM

    /// Maps `ramSize` bytes of RAM (whole MiB from 16 MiB to 2 GiB, so that all of it lies below
    /// the PCI hole) and the firmware blocks, with SeaBIOS's reset vector at the top of the BIOS.
    init(ramSize: UInt64) throws(DemoError) {
        guard ramSize >= 16 << 20, ramSize <= 2 << 30, ramSize % (1 << 20) == 0 else {
            throw .invalidConfiguration("-m must be a whole number of MiB from 16M to 2G (the demo keeps all RAM below 4 GiB), not \(Hex.humanSize(ramSize))")
        }
        ram = try GuestRAM(name: "pc.ram", size: ramSize)
        bios = try GuestRAM(name: "pc.bios", size: 256 << 10)
        optionROM = try GuestRAM(name: "pc.rom", size: 128 << 10)
        // `jmp f000:e05b`, the build date and the model byte, where a CPU starts and a BIOS keeps them.
        bios.write([0xea, 0x5b, 0xe0, 0x00, 0xf0] + Array("06/23/99".utf8) + [0x00, 0xfc, 0x00], at: bios.size - 16)
        bios.write(Array("vqscope demo BIOS (simulated: no code runs here)\0".utf8), at: bios.size - 0x10000)
    }
}

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vqscope",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vqscope", targets: ["vqscope"]),
        .library(name: "VQCore", targets: ["VQCore"]),
        .library(name: "VQTUI", targets: ["VQTUI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The few libc calls Swift's Glibc module does not export (process_vm_readv).
        .target(name: "CVQSys"),
        // The pure core: memory access, slot maps, QEMU process and QMP facts. No terminal code.
        .target(name: "VQCore", dependencies: ["CVQSys"]),
        // ncursesw (Debian: libncursesw5-dev), with wrappers for what Swift cannot import.
        .systemLibrary(name: "CNcursesw", providers: [.apt(["libncursesw5-dev"])]),
        // libbpf (Debian: libbpf-dev) with the libelf and zlib it needs: the loader of the eBPF probes.
        // No pkgConfig: its -L/usr/lib/... would come before the release build's static archives;
        // CVQProbes (C, which no Swift autolinking reaches) names the libraries itself.
        .systemLibrary(name: "CLibbpf", providers: [.apt(["libbpf-dev"])]),
        // vqscope's eBPF probes on QEMU's virtio functions: their C source (bpf/, compiled by
        // scripts/bpf-build.sh into vqprobes_object.c, which is committed) and the libbpf loader.
        .target(name: "CVQProbes", dependencies: ["CLibbpf"], exclude: ["bpf"],
                linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]),
        // The eBPF event source (VQCore's ProbeEventSource) over CVQProbes.
        .target(name: "VQProbes", dependencies: ["VQCore", "CVQProbes"]),
        // The live inspector: state -> a screen model (an in-memory grid) -> ncurses.
        .target(name: "VQTUI", dependencies: ["VQCore", "CNcursesw"]),
        // `vqscope demo`: a simulated guest (RAM with virtqueues and steady traffic) in a child
        // process that answers QMP like QEMU, so the demo goes through the same --pid path.
        .target(name: "VQDemo", dependencies: ["VQCore"]),
        // The thin command line: parses options and calls the library.
        .executableTarget(
            name: "vqscope",
            dependencies: [
                "VQCore",
                "VQTUI",
                "VQDemo",
                "VQProbes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Side-by-side measurements against QEMU's QMP and plain reads (Samples/bench/benchmark.sh).
        .executableTarget(name: "vqscope-benchmarks", dependencies: ["VQCore"]),
        .testTarget(name: "VQCoreTests", dependencies: ["VQCore"]),
        .testTarget(name: "VQTUITests", dependencies: ["VQTUI", "VQCore"]),
        .testTarget(name: "VQDemoTests", dependencies: ["VQDemo", "VQCore"]),
        // Boots the Samples/bench guests under QEMU and checks vqscope against QEMU's own answers.
        .testTarget(name: "VQIntegrationTests", dependencies: ["VQCore", "VQProbes", "vqscope"]),
    ]
)

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vqscope",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vqscope", targets: ["vqscope"]),
        .library(name: "VQCore", targets: ["VQCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The few libc calls Swift's Glibc module does not export (process_vm_readv).
        .target(name: "CVQSys"),
        // The pure core: memory access, slot maps, QEMU process and QMP facts. No terminal code.
        .target(name: "VQCore", dependencies: ["CVQSys"]),
        // The thin command line: parses options and calls the library.
        .executableTarget(
            name: "vqscope",
            dependencies: [
                "VQCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Side-by-side measurements against QEMU's QMP and plain reads (Samples/bench/benchmark.sh).
        .executableTarget(name: "vqscope-benchmarks", dependencies: ["VQCore"]),
        .testTarget(name: "VQCoreTests", dependencies: ["VQCore"]),
        // Boots the Samples/bench guests under QEMU and checks vqscope against QEMU's own answers.
        .testTarget(name: "VQIntegrationTests", dependencies: ["VQCore", "vqscope"]),
    ]
)

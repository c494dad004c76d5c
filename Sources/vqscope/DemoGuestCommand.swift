import ArgumentParser

/// The demo's simulated guest (run by `vqscope demo` as a child process).
struct DemoGuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-guest", abstract: "Run the demo's simulated guest (started by `vqscope demo`).", shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []

    func run() throws {
        throw ValidationError("the simulated guest is not built yet")
    }
}

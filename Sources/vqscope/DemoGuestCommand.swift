import ArgumentParser
import VQDemo

/// The demo's simulated guest (run by `vqscope demo` as a child process): guest RAM with virtqueues
/// and traffic, and a QMP server answering like QEMU, until SIGTERM, SIGINT or the parent's exit.
struct DemoGuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-guest", abstract: "Run the demo's simulated guest (started by `vqscope demo`).", shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []

    func run() throws {
        let options: DemoGuestOptions
        do { options = try DemoGuestOptions(arguments: arguments) } catch {
            throw ValidationError(error.description)
        }
        do { try DemoGuestProcess.run(options) } catch {
            Output.standardError.write("vqscope demo-guest: \(error)\n")
            Output.standardError.flush()
            throw ExitCode(2)
        }
    }
}

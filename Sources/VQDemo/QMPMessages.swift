import VQCore

/// What one QMP connection has negotiated.
struct QMPSession: Sendable {
    /// Whether `qmp_capabilities` has been run (commands are refused before, events held back).
    var negotiated = false
}

/// The answer to one command line: events to send every client first, then the reply.
struct QMPReply: Sendable {
    var events: [JSON] = []
    var response: JSON
}

/// A QMP error reply's class and description.
struct QMPFailure: Error, Sendable {
    enum ErrorClass: String, Sendable {
        case generic = "GenericError"
        case commandNotFound = "CommandNotFound"
        case deviceNotFound = "DeviceNotFound"
    }

    var errorClass: ErrorClass
    var description: String

    init(_ errorClass: ErrorClass, _ description: String) {
        self.errorClass = errorClass
        self.description = description
    }
}

/// A question typed on the bottom line: what it is for and what has been typed so far.
struct Prompt: Hashable, Sendable {
    enum Purpose: Hashable, Sendable {
        /// `g`: a guest-physical address to hexdump.
        case gotoAddress
        /// `/`: a value to find in the current view.
        case find
    }

    /// Longest input kept.
    static let maxLength = 40

    var purpose: Purpose
    var text = ""

    /// The words before the input.
    var label: String {
        switch purpose {
        case .gotoAddress: return "Go to guest-physical address (hex): "
        case .find: return "Find value (hex): "
        }
    }

    /// What a key does to a prompt.
    enum Outcome: Equatable {
        case editing
        case cancelled
        case confirmed(String)
    }

    /// Applies a key: characters are typed, Backspace deletes, Enter confirms, Escape cancels;
    /// other keys are ignored.
    mutating func handle(_ key: Key) -> Outcome {
        switch key {
        case .enter: return .confirmed(text)
        case .escape: return .cancelled
        case .backspace:
            if !text.isEmpty { text.removeLast() }
        case .character(let c):
            if text.count < Self.maxLength, c.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) {
                text.append(c)
            }
        default:
            break
        }
        return .editing
    }
}

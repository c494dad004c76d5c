/// evdev names of input event types and codes (Linux include/uapi/linux/input-event-codes.h), as
/// virtio-input carries them unchanged.
public enum InputEventCode {
    /// `EV_KEY`, `EV_REL`...; `EV_0x1f` for a type without a name.
    public static func typeName(_ type: UInt16) -> String {
        switch type {
        case 0x00: return "EV_SYN"
        case 0x01: return "EV_KEY"
        case 0x02: return "EV_REL"
        case 0x03: return "EV_ABS"
        case 0x04: return "EV_MSC"
        case 0x05: return "EV_SW"
        case 0x11: return "EV_LED"
        case 0x12: return "EV_SND"
        case 0x14: return "EV_REP"
        case 0x15: return "EV_FF"
        case 0x16: return "EV_PWR"
        case 0x17: return "EV_FF_STATUS"
        default: return "EV_0x" + String(type, radix: 16)
        }
    }

    /// `SYN_REPORT`, `KEY_A`, `BTN_LEFT`, `REL_WHEEL`, `ABS_X`...; the number in hex for a code
    /// without a name here.
    public static func codeName(type: UInt16, code: UInt16) -> String {
        let name: String?
        switch type {
        case 0x00: name = lookup(code, ["SYN_REPORT", "SYN_CONFIG", "SYN_MT_REPORT", "SYN_DROPPED"])
        case 0x01: name = keyName(code)
        case 0x02: name = lookup(code, ["REL_X", "REL_Y", "REL_Z", "REL_RX", "REL_RY", "REL_RZ", "REL_HWHEEL", "REL_DIAL",
                                        "REL_WHEEL", "REL_MISC", nil, "REL_WHEEL_HI_RES", "REL_HWHEEL_HI_RES"])
        case 0x03: name = absoluteAxes[code]
        case 0x04: name = lookup(code, ["MSC_SERIAL", "MSC_PULSELED", "MSC_GESTURE", "MSC_RAW", "MSC_SCAN", "MSC_TIMESTAMP"])
        case 0x11: name = lookup(code, ["LED_NUML", "LED_CAPSL", "LED_SCROLLL", "LED_COMPOSE", "LED_KANA", "LED_SLEEP",
                                        "LED_SUSPEND", "LED_MUTE", "LED_MISC", "LED_MAIL", "LED_CHARGING"])
        case 0x14: name = lookup(code, ["REP_DELAY", "REP_PERIOD"])
        default: name = nil
        }
        return name ?? "0x" + String(code, radix: 16)
    }

    private static func lookup(_ code: UInt16, _ names: [String?]) -> String? {
        Int(code) < names.count ? names[Int(code)] : nil
    }

    private static let absoluteAxes: [UInt16: String] = [
        0x00: "ABS_X", 0x01: "ABS_Y", 0x02: "ABS_Z", 0x03: "ABS_RX", 0x04: "ABS_RY", 0x05: "ABS_RZ",
        0x06: "ABS_THROTTLE", 0x07: "ABS_RUDDER", 0x08: "ABS_WHEEL", 0x09: "ABS_GAS", 0x0a: "ABS_BRAKE",
        0x10: "ABS_HAT0X", 0x11: "ABS_HAT0Y", 0x18: "ABS_PRESSURE", 0x19: "ABS_DISTANCE", 0x1a: "ABS_TILT_X",
        0x1b: "ABS_TILT_Y", 0x28: "ABS_MISC", 0x2f: "ABS_MT_SLOT", 0x30: "ABS_MT_TOUCH_MAJOR",
        0x35: "ABS_MT_POSITION_X", 0x36: "ABS_MT_POSITION_Y", 0x39: "ABS_MT_TRACKING_ID", 0x3a: "ABS_MT_PRESSURE",
    ]

    /// Keys 1-88 in order (KEY_ESC = 1 ... KEY_F12 = 88; 84 is unused).
    private static let keys: [String?] = [
        nil, "ESC", "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "MINUS", "EQUAL", "BACKSPACE", "TAB",
        "Q", "W", "E", "R", "T", "Y", "U", "I", "O", "P", "LEFTBRACE", "RIGHTBRACE", "ENTER", "LEFTCTRL",
        "A", "S", "D", "F", "G", "H", "J", "K", "L", "SEMICOLON", "APOSTROPHE", "GRAVE", "LEFTSHIFT", "BACKSLASH",
        "Z", "X", "C", "V", "B", "N", "M", "COMMA", "DOT", "SLASH", "RIGHTSHIFT", "KPASTERISK", "LEFTALT", "SPACE",
        "CAPSLOCK", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "NUMLOCK", "SCROLLLOCK",
        "KP7", "KP8", "KP9", "KPMINUS", "KP4", "KP5", "KP6", "KPPLUS", "KP1", "KP2", "KP3", "KP0", "KPDOT",
        nil, "ZENKAKUHANKAKU", "102ND", "F11", "F12",
    ]

    private static let moreKeys: [UInt16: String] = [
        96: "KEY_KPENTER", 97: "KEY_RIGHTCTRL", 98: "KEY_KPSLASH", 99: "KEY_SYSRQ", 100: "KEY_RIGHTALT",
        102: "KEY_HOME", 103: "KEY_UP", 104: "KEY_PAGEUP", 105: "KEY_LEFT", 106: "KEY_RIGHT", 107: "KEY_END",
        108: "KEY_DOWN", 109: "KEY_PAGEDOWN", 110: "KEY_INSERT", 111: "KEY_DELETE", 113: "KEY_MUTE",
        114: "KEY_VOLUMEDOWN", 115: "KEY_VOLUMEUP", 116: "KEY_POWER", 117: "KEY_KPEQUAL", 119: "KEY_PAUSE",
        125: "KEY_LEFTMETA", 126: "KEY_RIGHTMETA", 127: "KEY_COMPOSE", 142: "KEY_SLEEP", 143: "KEY_WAKEUP",
        0x100: "BTN_0", 0x110: "BTN_LEFT", 0x111: "BTN_RIGHT", 0x112: "BTN_MIDDLE", 0x113: "BTN_SIDE", 0x114: "BTN_EXTRA",
        0x115: "BTN_FORWARD", 0x116: "BTN_BACK", 0x117: "BTN_TASK", 0x120: "BTN_TRIGGER", 0x130: "BTN_SOUTH",
        0x131: "BTN_EAST", 0x133: "BTN_NORTH", 0x134: "BTN_WEST", 0x140: "BTN_TOOL_PEN", 0x141: "BTN_TOOL_RUBBER",
        0x145: "BTN_TOOL_FINGER", 0x14a: "BTN_TOUCH", 0x14b: "BTN_STYLUS", 0x14c: "BTN_STYLUS2",
        0x14d: "BTN_TOOL_DOUBLETAP",
    ]

    private static func keyName(_ code: UInt16) -> String? {
        if Int(code) < keys.count, let key = keys[Int(code)] { return "KEY_" + key }
        return moreKeys[code]
    }
}

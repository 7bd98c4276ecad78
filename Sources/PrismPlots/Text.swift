// Escaping, label clean-up and an estimate of rendered text width for layout.

enum Text {
    /// Escapes the five XML specials (valid in HTML too) and replaces characters that XML 1.0
    /// forbids (most C0 controls, U+FFFE, U+FFFF) with U+FFFD, so any input yields valid XML.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// A one-line label: control characters (tokens can be "\n" or "\t") become visible
    /// escapes such as "\n", so they neither break the line nor vanish.
    static func label(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0) || u.value == 0xFFFE || u.value == 0xFFFF {
                    out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// `label(s)` cut to at most `maxChars` characters, ending with "…" when cut.
    static func truncated(_ s: String, maxChars: Int) -> String {
        let l = label(s)
        guard l.count > maxChars, maxChars >= 2 else { return l }
        return String(l.prefix(maxChars - 1)) + "…"
    }

    /// `label(s)`, cut until its estimated width fits `maxWidth`.
    static func fitted(_ s: String, maxWidth: Double, fontSize: Double) -> String {
        var l = label(s)
        guard width(l, fontSize: fontSize) > maxWidth else { return l }
        // No character is narrower than 0.3 em, which bounds how many can fit; cutting there
        // first keeps the loop below short for very long strings.
        let bound = maxWidth.isFinite ? max(Int(min(max(maxWidth, 0) / (0.3 * fontSize), 10_000)), 1) : 1
        if l.count > bound { l = String(l.prefix(bound)) }
        while l.count > 1 {
            l.removeLast()
            if width(l + "…", fontSize: fontSize) <= maxWidth { break }
        }
        return l + "…"
    }

    /// Estimated advance width of `s` in a sans-serif font. Deliberately a little generous
    /// (DejaVu Sans, the usual Linux fallback, is wider than Helvetica) so layouts leave room.
    static func width(_ s: String, fontSize: Double) -> Double {
        var em = 0.0
        for u in s.unicodeScalars { em += advance(u) }
        return em * fontSize * 1.04
    }

    private static func advance(_ u: Unicode.Scalar) -> Double {
        let v = u.value
        switch v {
        case 0x300...0x36F, 0x200B...0x200D, 0xFE00...0xFE0F: return 0  // combining, zero-width
        case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1FAFF, 0x20000...0x3FFFD:
            return 1.0  // East Asian wide and emoji
        default: break
        }
        guard v < 0x80 else { return 0.62 }
        let c = Character(u)
        switch c {
        case " ": return 0.32
        case "i", "j", "l", ".", ",", ":", ";", "|", "!", "'", "`", "I": return 0.3
        case "f", "t", "r", "(", ")", "[", "]", "{", "}", "/", "\\", "\"", "-": return 0.4
        case "m", "w", "M", "W", "@", "%": return 0.9
        case "0"..."9": return 0.6
        case "A"..."Z": return 0.7
        default: return 0.57
        }
    }
}

import Foundation

/// How a token's piece is shown to a person.
public enum Display {
    /// A token piece shown readably: Gemma's "▁" as a space, control characters escaped.
    public static func quote(_ piece: String) -> String {
        var out = "\""
        for u in piece.replacingOccurrences(of: "\u{2581}", with: " ").unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.value < 0x20 || u.value == 0x7f { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// A table cell padded to `width` characters (Foundation's `%-10@` ignores the width on Linux);
/// a longer text is kept whole.
public func cell(_ s: String, _ width: Int, right: Bool = false) -> String {
    let pad = String(repeating: " ", count: max(0, width - s.count))
    return right ? pad + s : s + pad
}

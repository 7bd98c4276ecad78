/// The one rule for numbers JSON cannot spell: every JSON output writes NaN, +inf and -inf as the
/// strings `"NaN"`, `"Infinity"` and `"-Infinity"` (what Python's `float()`, numpy's
/// `astype(float)` and JavaScript's `Number()` read back), so the output stays valid JSON and
/// a non-finite value is never shown as another number. Finite numbers are left as they are.
public enum JSONNumbers {
    public static let nan = "NaN"
    public static let infinity = "Infinity"
    public static let negativeInfinity = "-Infinity"

    /// The JSON spelling of a non-finite value (nil for a finite one).
    public static func spelling(_ v: Double) -> String? {
        if v.isNaN { return nan }
        if v.isInfinite { return v > 0 ? infinity : negativeInfinity }
        return nil
    }

    /// `v` itself, or its string when it is not finite.
    static func number(_ v: Double) -> Any {
        if let s = spelling(v) { return s }
        return v
    }

    /// `obj` (a tree of dictionaries, arrays, numbers and strings for `JSONSerialization`) with
    /// every non-finite `Double` or `Float` replaced by its string. Arrays of finite numbers are
    /// returned as they are (one pass to check), so large outputs cost one scan.
    public static func encodable(_ obj: Any) -> Any {
        switch obj {
        case let v as Double: return number(v)
        case let v as Float: return v.isFinite ? v : number(Double(v))
        case let a as [Double]: return a.allSatisfy(\.isFinite) ? a : a.map(number)
        case let a as [Float]: return a.allSatisfy(\.isFinite) ? a : a.map { number(Double($0)) }
        case let a as [Int]: return a
        case let a as [String]: return a
        case let a as [Any]: return a.map(encodable)
        case let o as [String: Any]: return o.mapValues(encodable)
        default: return obj
        }
    }
}

// Number formatting that never consults a locale, so output bytes depend only on input.

import Foundation

public enum PlotFormat {
    /// `value` with exactly `decimals` digits after a '.', no grouping, ASCII '-' for
    /// negatives ("-0.00" is written "0.00"); NaN and infinities as "nan", "inf", "-inf".
    public static func fixed(_ value: Double, decimals: Int) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        let d = min(max(decimals, 0), 12)
        var scale: UInt64 = 1
        for _ in 0..<d { scale *= 10 }
        let scaled = (abs(value) * Double(scale)).rounded(.toNearestOrAwayFromZero)
        // Beyond UInt64 the digits past the decimal point are meaningless anyway.
        guard scaled < 1.8e19 else { return value.description }
        let n = UInt64(scaled)
        let sign = (value < 0 && n != 0) ? "-" : ""
        let whole = String(n / scale)
        guard d > 0 else { return sign + whole }
        let frac = String(n % scale)
        return sign + whole + "." + String(repeating: "0", count: d - frac.count) + frac
    }

    /// `fixed` with trailing zeros (and a trailing '.') removed: "1.50" -> "1.5", "2.00" -> "2".
    public static func trimmed(_ value: Double, decimals: Int) -> String {
        var s = fixed(value, decimals: decimals)
        guard s.contains("."), value.isFinite else { return s }
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// `value` with about four significant digits for hover text: "15.43", "0.001234",
    /// "-2.5"; |value| >= 1e6 or < 1e-4 (not zero) in scientific notation ("1.23e-05").
    public static func significant(_ value: Double) -> String {
        guard value.isFinite, value != 0 else { return fixed(value, decimals: 0) }
        let a = abs(value)
        if a >= 1e6 || a < 1e-4 { return String(format: "%.3g", locale: nil, value) }
        let digits = max(0, 3 - Int(floor(log10(a))))
        return trimmed(value, decimals: digits)
    }

    /// An SVG coordinate: at most two decimals, which is finer than any screen or printer.
    static func coord(_ value: Double) -> String {
        value.isFinite ? trimmed(value, decimals: 2) : "0"
    }

    /// A tick label for `value` on an axis whose ticks are `step` apart: just enough decimals
    /// to tell neighbouring ticks apart, scientific notation for very large or small scales,
    /// and a typographic minus sign (U+2212) as in print.
    static func tick(_ value: Double, step: Double, magnitude: Double) -> String {
        guard value.isFinite else { return "" }
        let s: String
        if magnitude >= 1e6 || !step.isFinite || (step > 0 && step < 1e-4) {
            s = scientific(value, step: step)
        } else {
            let decimals = step > 0 ? max(0, -Int(floor(log10(step) + 1e-9))) : 2
            s = fixed(value, decimals: min(decimals, 6))
        }
        return s.hasPrefix("-") ? "\u{2212}" + s.dropFirst() : s
    }

    /// "2.5e6" style: mantissa with up to two decimals, plain exponent.
    static func scientific(_ value: Double, step: Double) -> String {
        if value == 0 { return "0" }
        let exponent = Int(floor(log10(abs(value))))
        var mantissa = value / pow10(exponent)
        var e = exponent
        if abs(mantissa) >= 9.995 { mantissa /= 10; e += 1 }
        let m = trimmed(mantissa, decimals: 2)
        return m + "e" + (e < 0 ? "\u{2212}" + String(-e) : String(e))
    }

    static func pow10(_ e: Int) -> Double {
        var r = 1.0
        if e >= 0 { for _ in 0..<min(e, 400) { r *= 10 } } else { for _ in 0..<min(-e, 400) { r /= 10 } }
        return r
    }
}

import Foundation
import PrismKernels
import PrismModel
import PrismSession
import PrismSupport
import Prisms

/// What every JSON output states about how its numbers were made: the version of prism that
/// wrote it and the route of the products with int8 weights (the same prompt gives logits that
/// differ in the third decimal between routes, so an output that does not say which is ambiguous).
public enum OutputStamp {
    /// `int8`: int8 weights multiplied with activations quantized to int8 per block of 32 (the
    /// default on an int8 model); `exact`: fp32 activations (`--exact-activations`, or weights
    /// that are not int8, where there is nothing to quantize). Activations read from a store
    /// (`--acts`) have the route the store records (that of the `prism run` that wrote it), or
    /// `stored` when the store predates recording it.
    public static func route(_ session: PrismSession, stored: Bool = false) -> String {
        if stored { return session.storedRoute ?? "stored" }
        return RunOptions(route: session.route).routeName(for: session.model)
    }

    /// The route as the tables say it.
    public static func routeText(_ session: PrismSession, stored: Bool = false) -> String {
        switch (route(session, stored: stored), stored) {
        case ("int8", false): return "int8 activations with the int8 weights (--exact-activations for fp32)"
        case ("int8", true):
            return "int8 activations with the int8 weights, read from the store; `prism run` made W_O and W_down exact at every position "
                + "(a direct run makes them exact at the decomposed position only: its numbers differ slightly)"
        case ("stored", _): return "activations read from the store (its route is the one `prism run` used)"
        case (_, true): return "exact fp32 activations, read from the store"
        default: return session.model.hasInt8Weights ? "exact fp32 activations with the int8 weights" : "fp32 activations (the weights are not int8)"
        }
    }

    /// Adds `prism_version` and `route` to a JSON object.
    public static func stamp(_ obj: inout [String: Any], _ session: PrismSession, stored: Bool = false) {
        DecompositionJSON.stamp(&obj, route: route(session, stored: stored))
    }
}

/// A token's text for the tidy files: the piece with SentencePiece's `▁` as a space, without
/// the quotes the tables add (CSV quoting is the file's own); `#id` without a tokenizer.
public enum TokenText {
    /// - Throws: `PrismError` for a tokenizer that does not parse.
    public static func of(_ id: Int, _ session: PrismSession) throws -> String { try session.text(id) }

    /// A target's label without the tables' quotes: its token's text, or "A - B" for a difference
    /// (terms joined with their signs; a coefficient other than +-1 is written in front).
    public static func label(_ t: Target, _ text: (Int) -> String) -> String {
        var s = ""
        for (i, term) in t.terms.enumerated() {
            let c = abs(term.coef)
            let sign = term.coef < 0 ? (i == 0 ? "-" : " - ") : (i == 0 ? "" : " + ")
            s += sign + (c == 1 ? "" : "\(c) * ") + text(term.id)
        }
        return s
    }
}

/// CSV text by RFC 4180 (the rule of PrismPlots' `CSV`, which this module does not import): a
/// field is quoted only when it holds a comma, a quote, a line break or leading/trailing white space (a token " Paris" keeps its space), quotes doubled inside.
public enum CSVText {
    public static func field(_ s: String) -> String {
        // Scalars, not Characters: "\r\n" is one Character equal to neither "\r" nor "\n" (as PrismPlots' CSV).
        let needs =
            s.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || s.first?.isWhitespace == true || s.last?.isWhitespace == true
        return needs ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    public static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\n" }

    /// A number as CSV writes it: shortest round-trip text; NaN and inf as numpy/pandas read them.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        // Integral values (coefficients) without a trailing ".0".
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(v)"
    }
}

/// Every `--json` output goes through here: NaN and inf are written as the strings "NaN",
/// "Infinity", "-Infinity" (`JSONNumbers`, the README's rule), so the output is always valid JSON.
public enum JSONOut {
    /// One line of JSON, keys sorted, slashes unescaped.
    /// - Throws: what `JSONSerialization` throws for an object it cannot write.
    public static func string(_ obj: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: JSONNumbers.encodable(obj), options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// `string(obj)` and a line break, on standard output.
    /// - Throws: as `string`; `PrismError` when a mapped model changed under the command (its
    ///   results are not printed).
    public static func print(_ obj: Any) throws {
        try MappedFile.checkAllUnchanged()
        Swift.print(try string(obj))
    }
}

/// Standard output as a `TextOutputStream`: through `print`, so it shares stdout's buffer with
/// everything else the process prints (and the CLI's final flush sees its write errors).
public struct StandardOutput: TextOutputStream {
    /// - Throws: `PrismError` when a mapped model changed under the command: a table longer
    ///   than stdout's buffer would otherwise be partly written before the final check.
    public init() throws { try MappedFile.checkAllUnchanged() }
    public mutating func write(_ string: String) { Swift.print(string, terminator: "") }
}

/// Standard error as a `TextOutputStream` (unbuffered: warnings and notes appear at once).
public struct StandardError: TextOutputStream {
    public init() {}
    public mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
}

/// Parses sizes as users write them: `1073741824`, `512MiB`, `1GiB`, `4KiB`, `2GB`, `1.5G`.
/// Binary units (KiB, MiB, GiB, TiB, and the bare K/M/G/T) are powers of 1024;
/// decimal units (KB, MB, GB, TB) are powers of 1000.
public enum ByteSize {
    public static func parse(_ text: String) throws -> Int {
        let s = text.trimmingSpaces()
        guard !s.isEmpty else { throw PrismError("empty size; write e.g. 512MiB or 1GiB") }
        var numberEnd = s.startIndex
        while numberEnd < s.endIndex, s[numberEnd].isNumber || s[numberEnd] == "." { numberEnd = s.index(after: numberEnd) }
        let number = String(s[..<numberEnd])
        let unit = String(s[numberEnd...]).trimmingSpaces().lowercased()
        guard let value = Double(number), value >= 0, value.isFinite else {
            throw PrismError("malformed size '\(text)'; write e.g. 512MiB or 1GiB")
        }
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "k": 1024, "kib": 1024, "m": 1048576, "mib": 1048576, "g": 1073741824, "gib": 1073741824,
            "t": 1099511627776, "tib": 1099511627776,
            "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        ]
        guard let m = multipliers[unit] else {
            throw PrismError("malformed size '\(text)': unknown unit '\(unit)'; use B, KiB, MiB, GiB or TiB")
        }
        // `--max-memory 1.5` meant 1.5 of something, not 2 bytes.
        guard m > 1 || value == value.rounded() else {
            throw PrismError("size '\(text)' is a fraction of a byte; give a unit, e.g. \(number)GiB")
        }
        let bytes = value * m
        guard bytes < 9e18 else { throw PrismError("size '\(text)' is too large") }
        return Int(bytes.rounded())
    }

    /// `1.50 GiB`, `512.0 MiB`, `812 B`.
    public static func format(_ bytes: Int) -> String {
        let b = Double(bytes)
        if bytes >= 1 << 30 { return String(format2: b / Double(1 << 30)) + " GiB" }
        if bytes >= 1 << 20 { return String(format2: b / Double(1 << 20)) + " MiB" }
        if bytes >= 1 << 10 { return String(format2: b / Double(1 << 10)) + " KiB" }
        return "\(bytes) B"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }

    /// Two decimals without Foundation's locale-dependent formatting.
    public init(format2 value: Double) {
        let scaled = (value * 100).rounded()
        let whole = Int(scaled / 100)
        let frac = abs(Int(scaled) % 100)
        self = "\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }
}

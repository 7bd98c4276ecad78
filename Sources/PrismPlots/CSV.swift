// CSV files to go next to figures, so every plotted number can be checked or re-plotted.

public enum CSV {
    /// RFC 4180 CSV: fields with a comma, quote, line break or edge space are quoted, quotes
    /// doubled; lines end in "\n". Short rows are written as they are.
    public static func render(headers: [String], rows: [[String]]) -> String {
        var out = ""
        if !headers.isEmpty { out += line(headers) }
        for r in rows { out += line(r) }
        return out
    }

    /// A table with one row per category and one column per series, numbers written with
    /// `decimals` digits (missing values as empty fields).
    public static func series(
        categoryHeader: String = "category", categories: [String], series: [Series],
        decimals: Int = 6
    ) -> String {
        let rows = categories.indices.map { i in
            [categories[i]]
                + series.map { s in
                    i < s.values.count && s.values[i].isFinite ? PlotFormat.fixed(s.values[i], decimals: decimals) : ""
                }
        }
        return render(headers: [categoryHeader] + series.map(\.name), rows: rows)
    }

    public static func write(headers: [String], rows: [[String]], to path: String) throws {
        try writeTextFile(render(headers: headers, rows: rows), to: path)
    }

    static func field(_ s: String) -> String {
        // Scalars, not Characters: "\r\n" is one Character that equals neither "\r" nor "\n".
        let needsQuotes =
            s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            || s.hasPrefix(" ") || s.hasSuffix(" ")
        guard needsQuotes else { return s }
        var out = "\""
        for ch in s { out += ch == "\"" ? "\"\"" : String(ch) }
        return out + "\""
    }

    private static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }
}

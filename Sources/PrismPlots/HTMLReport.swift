// A self-contained HTML report: figures inlined as SVG, a small embedded stylesheet that
// prints well, no scripts and no external references. All text is escaped.
//
// The markup is also well-formed XML (void elements self-closed, only XML entities), so a
// test can parse the whole page and a browser opens it from disk as it is.

public struct HTMLReport: Sendable {
    public var title: String
    public var subtitle: String
    private var blocks: [Block] = []
    private var figureCount = 0
    private var tableCount = 0
    private var sectionCount = 0

    private enum Block: Sendable {
        case heading(level: Int, text: String, id: String)
        case paragraph(String)
        case bullets([String])
        case code(String)
        case keyValues([(key: String, value: String)])
        case table(number: Int, headers: [String], rows: [[String]], numeric: Set<Int>, caption: String)
        case figure(number: Int, svg: SVG, caption: String, files: [String])
    }

    public init(title: String, subtitle: String = "") {
        self.title = title
        self.subtitle = subtitle
    }

    /// A section heading; level 2 headings (the default) are listed in the contents. Spans
    /// between backticks are set as `code`, as in paragraphs.
    public mutating func heading(_ text: String, level: Int = 2) {
        sectionCount += 1
        blocks.append(.heading(level: min(max(level, 2), 4), text: text, id: "sec-\(sectionCount)"))
    }

    /// A paragraph of plain text; spans between backticks are set as `code`.
    public mutating func paragraph(_ text: String) {
        blocks.append(.paragraph(text))
    }

    public mutating func bullets(_ items: [String]) {
        blocks.append(.bullets(items))
    }

    /// Preformatted text, e.g. a command line or a prompt shown verbatim.
    public mutating func code(_ text: String) {
        blocks.append(.code(text))
    }

    /// A two-column list of settings, e.g. model, prompt, target token.
    public mutating func keyValues(_ pairs: [(key: String, value: String)]) {
        blocks.append(.keyValues(pairs))
    }

    /// A numbered table. Cells of `numericColumns` are right-aligned with tabular digits.
    public mutating func table(headers: [String], rows: [[String]], numericColumns: Set<Int> = [], caption: String = "") {
        tableCount += 1
        blocks.append(.table(number: tableCount, headers: headers, rows: rows, numeric: numericColumns, caption: caption))
    }

    /// A numbered figure with the SVG inlined. `files` are relative paths of files that go
    /// with it (the standalone SVG, its CSV), linked from the caption.
    public mutating func figure(_ svg: SVG, caption: String, files: [String] = []) {
        figureCount += 1
        blocks.append(.figure(number: figureCount, svg: svg, caption: caption, files: files))
    }

    public func render() -> String {
        let e = Text.escape
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        h += "<meta name=\"generator\" content=\"PrismPlots\"/>\n"
        h += "<title>" + e(title) + "</title>\n<style>\n" + HTMLReport.css + "</style>\n</head>\n<body>\n"
        h += "<header>\n<h1>" + e(title) + "</h1>\n"
        if !subtitle.isEmpty { h += "<p class=\"subtitle\">" + inline(subtitle) + "</p>\n" }
        h += "</header>\n"
        h += contents()
        h += "<main>\n"
        for b in blocks { h += render(b) }
        h += "</main>\n</body>\n</html>\n"
        return h
    }

    public func write(to path: String) throws {
        try writeTextFile(render(), to: path)
    }

    /// A list of the level-2 sections, when there are at least two.
    private func contents() -> String {
        let sections: [(String, String)] = blocks.compactMap {
            if case let .heading(2, text, id) = $0 { return (text, id) }
            return nil
        }
        guard sections.count >= 2 else { return "" }
        var h = "<nav class=\"toc\">\n<p class=\"toc-title\">Contents</p>\n<ol>\n"
        for (text, id) in sections { h += "<li><a href=\"#" + id + "\">" + inline(text) + "</a></li>\n" }
        return h + "</ol>\n</nav>\n"
    }

    private func render(_ b: Block) -> String {
        let e = Text.escape
        switch b {
        case let .heading(level, text, id):
            return "<h\(level) id=\"\(id)\">" + inline(text) + "</h\(level)>\n"
        case let .paragraph(text):
            return "<p>" + inline(text) + "</p>\n"
        case let .bullets(items):
            return "<ul>\n" + items.map { "<li>" + inline($0) + "</li>\n" }.joined() + "</ul>\n"
        case let .code(text):
            return "<pre><code>" + e(text) + "</code></pre>\n"
        case let .keyValues(pairs):
            var h = "<dl class=\"kv\">\n"
            for p in pairs { h += "<dt>" + e(p.key) + "</dt><dd>" + inline(p.value) + "</dd>\n" }
            return h + "</dl>\n"
        case let .table(number, headers, rows, numeric, caption):
            return table(number: number, headers: headers, rows: rows, numeric: numeric, caption: caption)
        case let .figure(number, svg, caption, files):
            var h = "<figure id=\"fig-\(number)\">\n<div class=\"plot\">\n" + svg.text + "</div>\n"
            h += "<figcaption><span class=\"label\">Figure \(number).</span> " + inline(caption)
            if !files.isEmpty {
                let links = files.map { "<a href=\"" + HTMLReport.href($0) + "\">" + e(fileName($0)) + "</a>" }
                h += " <span class=\"files\">[" + links.joined(separator: ", ") + "]</span>"
            }
            return h + "</figcaption>\n</figure>\n"
        }
    }

    private func table(number: Int, headers: [String], rows: [[String]], numeric: Set<Int>, caption: String) -> String {
        let e = Text.escape
        let width = max(headers.count, rows.map(\.count).max() ?? 0)
        let cls: (Int) -> String = { numeric.contains($0) ? " class=\"num\"" : "" }
        var h = "<div class=\"table-wrap\">\n<table>\n"
        h += "<caption><span class=\"label\">Table \(number).</span> " + inline(caption) + "</caption>\n"
        if !headers.isEmpty {
            h += "<thead><tr>"
            for i in 0..<width { h += "<th\(cls(i))>" + e(i < headers.count ? headers[i] : "") + "</th>" }
            h += "</tr></thead>\n"
        }
        h += "<tbody>\n"
        for r in rows {
            h += "<tr>"
            for i in 0..<width { h += "<td\(cls(i))>" + e(i < r.count ? r[i] : "") + "</td>" }
            h += "</tr>\n"
        }
        return h + "</tbody>\n</table>\n</div>\n"
    }

    /// Escaped text with `code` spans; an unmatched backtick is kept as it is.
    private func inline(_ text: String) -> String {
        let parts = text.split(separator: "`", omittingEmptySubsequences: false).map(String.init)
        var h = ""
        for (i, p) in parts.enumerated() {
            if i % 2 == 1 && i < parts.count - 1 {
                h += "<code>" + Text.escape(p) + "</code>"
            } else {
                h += (i % 2 == 1 ? "`" : "") + Text.escape(p)
            }
        }
        return h
    }

    private func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// A relative reference: every byte but unreserved characters and '/' is percent-encoded,
    /// so even "https://..." becomes a harmless relative path and the page never reaches out.
    static func href(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~/".contains(c)) {
                out.append(c)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (byte < 16 ? "0" : "") + hex
            }
        }
        return out
    }
}

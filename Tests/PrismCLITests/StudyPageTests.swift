import Foundation
import XCTest

/// The capitals and addition study reports, written by `prism study` on the shipped model and
/// opened in a real headless browser (Debian's chromium; skipped where it is not installed):
/// every figure is inline, the heatmaps' cells carry their values as hover titles, and the logit
/// lens heatmap has one cell per prompt position and residual point.
final class StudyPageTests: XCTestCase {
    static let shipped = ExploreTests.shipped

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "study-page-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The DOM chromium builds from `path` (see `Chromium.dumpDOM`).
    func dumpDOM(_ path: String, dir: String) throws -> String {
        try Chromium.dumpDOM(path, profile: dir, unopened: "the study pages were written but not opened in a browser")
    }

    /// Runs `prism study NAME` on the shipped model into `dir/NAME`.
    func study(_ name: String, dir: String) throws -> String {
        let out = dir + "/" + name
        let r = try CLIRunner.run(["study", name, "-m", Self.shipped, "-o", out])
        XCTAssertEqual(r.status, 0, "study \(name): \(r.stderr)")
        return out
    }

    /// The inline `<svg>` elements of a DOM, each up to its `</svg>`.
    static func svgs(_ dom: String) -> [String] {
        dom.components(separatedBy: "<svg").dropFirst().map { $0.components(separatedBy: "</svg>")[0] }
    }

    /// The hover titles of a heatmap's cells (its `cells` group), in row-major order.
    static func cellTitles(_ svg: String) -> [String] {
        guard let start = svg.range(of: "<g class=\"cells\">"), let end = svg.range(of: "</g>", range: start.upperBound..<svg.endIndex) else { return [] }
        return svg[start.upperBound..<end.lowerBound].components(separatedBy: "<title>").dropFirst().map { $0.components(separatedBy: "</title>")[0] }
    }

    /// Rows of a CSV (RFC 4180: a quoted field may hold commas and doubled quotes; no newlines in these files).
    static func csvRows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            var fields: [String] = [], field = "", quoted = false, previous: Character? = nil
            for c in line {
                if c == "\"" {
                    // A quote right after a closing quote is a doubled (escaped) one.
                    if !quoted, previous == "\"" { field.append(c) }
                    quoted.toggle()
                } else if c == ",", !quoted {
                    fields.append(field)
                    field = ""
                } else {
                    field.append(c)
                }
                previous = c
            }
            return fields + [field]
        }
    }

    /// The page's figures in the browser's DOM: as many inline SVGs as the folder has SVG files,
    /// each heatmap cell titled with a number, and the lens heatmap `positions x points` cells
    /// whose titles agree with lens.csv. Returns the lens cells' values.
    func checkPage(_ out: String, positions: Int, dir: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String]] {
        let dom = try dumpDOM(out + "/index.html", dir: dir)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".svg") }
        XCTAssertTrue(files.contains("lens.svg"), "\(files)", file: file, line: line)
        let svgs = Self.svgs(dom)
        XCTAssertEqual(svgs.count, files.count, "one inline SVG per figure file", file: file, line: line)
        // Points: one per residual-prism component (Embed, a0, m0, ...), counted from residual.csv.
        let points = try Self.csvRows(out + "/residual.csv").count - 1
        let lens = try XCTUnwrap(svgs.first { $0.contains("aria-label=\"Logit lens: ") }, "no lens heatmap in the page", file: file, line: line)
        let titles = Self.cellTitles(lens)
        XCTAssertEqual(titles.count, positions * points, "lens cells = positions x points", file: file, line: line)
        for svg in svgs where svg.contains("<g class=\"cells\">") {
            for t in Self.cellTitles(svg) {
                let value = t.components(separatedBy: ": ").last ?? ""
                XCTAssertTrue(Double(value) != nil || value == "missing", "a cell's title has no value: \(t)", file: file, line: line)
            }
        }
        // The hover value of each lens cell is the CSV's logit (to the title's 4 significant digits).
        let rows = Array(try Self.csvRows(out + "/lens.csv").dropFirst())
        XCTAssertEqual(rows.count, titles.count, file: file, line: line)
        for (t, row) in zip(titles, rows) {
            let shown = Double(t.components(separatedBy: ": ").last ?? "") ?? .nan, logit = Double(row[7]) ?? .infinity
            XCTAssertEqual(shown, logit, accuracy: max(1e-3, abs(logit) * 1e-3), "\(t) vs \(row)", file: file, line: line)
        }
        return rows
    }

    func json(_ path: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    func testCapitalsPageInABrowser() throws {
        let dir = try temporaryDirectory()
        let out = try study("capitals", dir: dir)
        let summary = try json(out + "/summary.json")
        let ids = try XCTUnwrap(summary["ids"] as? [Int])
        let rows = try checkPage(out, positions: ids.count, dir: dir)
        // The lens's last point at the last position is the model's own logit of the right capital.
        let candidates = try XCTUnwrap(summary["candidates"] as? [String]), logits = try XCTUnwrap(summary["logits"] as? [Double])
        let paris = try XCTUnwrap(candidates.firstIndex(of: "Paris"))
        let last = try XCTUnwrap(rows.last)
        XCTAssertEqual(last[6], " Paris")
        XCTAssertEqual(Double(last[7]) ?? .nan, logits[paris], accuracy: 1e-3 * max(1, abs(logits[paris])))
    }

    func testAdditionPageInABrowser() throws {
        let dir = try temporaryDirectory()
        let out = try study("addition", dir: dir)
        let summary = try json(out + "/summary.json")
        let example = try XCTUnwrap(summary["example"] as? String)
        let t = try CLIRunner.run(["tokenize", "-m", Self.shipped, "--json", example])
        XCTAssertEqual(t.status, 0, t.stderr)
        let ids = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as? [String: Any])?["ids"] as? [Int])
        let rows = try checkPage(out, positions: ids.count, dir: dir)
        // The right next digit of 7+2= is 9: the lens reads it.
        XCTAssertEqual(rows.last?[6], "9")
        // The sweep heatmap is in the page: 81 prompts x 10 digits, each cell titled.
        let dom = try dumpDOM(out + "/index.html", dir: dir)
        let sweep = try XCTUnwrap(Self.svgs(dom).first { $0.contains("aria-label=\"Summed templates") })
        XCTAssertEqual(Self.cellTitles(sweep).count, 81 * 10)
    }
}

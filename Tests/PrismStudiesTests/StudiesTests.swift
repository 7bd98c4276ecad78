import Foundation
import FoundationXML
import PrismModel
import PrismStudies
import XCTest

/// Structure of the study outputs on the fixture model (the shipped model's numbers are
/// checked in ShippedModelTests): valid SVG/HTML, the expected files and series.
final class StudiesTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    var dir: String!

    override func setUpWithError() throws { dir = NSTemporaryDirectory() + "study-\(UUID().uuidString)" }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func context() throws -> StudyContext { try StudyContext(loaded: LoadedModel.open(Self.fixtures + "/tiny-f32")) }

    func parses(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertTrue(parser.parse(), "\(path) is not well-formed XML: \(String(describing: parser.parserError))", file: file, line: line)
    }

    func count(_ needle: String, in path: String) throws -> Int {
        try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: needle).count - 1
    }

    func testAdditionStudyWritesReport() throws {
        let r = try AdditionStudy().run(try context(), output: dir)
        XCTAssertEqual(r.prompts, 81)
        for f in ["index.html", "residual.svg", "residual.csv", "templates.svg", "stacked.svg", "prompts.csv", "summary.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), f)
        }
        try parses(dir + "/residual.svg")
        try parses(dir + "/stacked.svg")
        try parses(dir + "/index.html")
        XCTAssertEqual(try count("class=\"series\"", in: dir + "/residual.svg"), 10, "one line per digit")
        let html = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        XCTAssertFalse(html.contains("https://") && !html.contains("http://www.w3.org/2000/svg"), "no network references")
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 5, "figures inlined (the lens heatmap is the fifth)")
        XCTAssertEqual(try String(contentsOfFile: dir + "/prompts.csv", encoding: .utf8).split(separator: "\n").count, 82)
    }

    /// The sweep is a heatmap (81 prompts x 10 digits, each cell's value as hover text, the
    /// right digit outlined), not an 81-row table; its CSV has one row per prompt.
    func testAdditionSweepIsAHeatmap() throws {
        _ = try AdditionStudy().run(try context(), output: dir)
        try parses(dir + "/sweep.svg")
        let svg = try String(contentsOfFile: dir + "/sweep.svg", encoding: .utf8)
        let csv = try String(contentsOfFile: dir + "/sweep.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 82)
        XCTAssertTrue(csv[0].hasPrefix("a,b,right,"))
        XCTAssertEqual(svg.components(separatedBy: "<title>7+2=, ").count - 1, 10, "ten cells in the row 7+2=")
        XCTAssertEqual(svg.components(separatedBy: "stroke=\"#000000\" stroke-width=\"1.6\"").count - 1, 81, "the right digit outlined per row")
        // The value in the hover text is the CSV's (to the CSV's 3 decimals).
        let row = csv.first { $0.hasPrefix("7,2,") }.map { $0.split(separator: ",") } ?? []
        XCTAssertEqual(row.count, 15)
        let titled = svg.components(separatedBy: "<title>7+2=, 9: ").dropFirst().first?.prefix { $0 != "<" } ?? ""
        XCTAssertEqual(Double(titled) ?? .nan, Double(row[14]) ?? .infinity, accuracy: 6e-4)
        let html = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        XCTAssertFalse(html.contains("summed templates 0..9"), "the 81-row table is gone")
    }

    func testDigitsStudy() throws {
        let r = try DigitsStudy().run(try context(), output: dir)
        XCTAssertEqual(r.coordinates.count, 10)
        XCTAssertGreaterThan(r.explained.0, 0)
        XCTAssertGreaterThanOrEqual(r.explained.0, r.explained.1)
        XCTAssertLessThanOrEqual(r.explained.0 + r.explained.1, 1 + 1e-9)
        try parses(dir + "/digits_pca.svg")
        // Centred coordinates sum to zero.
        XCTAssertEqual(r.coordinates.reduce(0) { $0 + $1.x }, 0, accuracy: 1e-6)
    }

    /// On the fixture's small vocabulary only Paris and London are single tokens: the study
    /// runs with those two, names the candidates it left out, and writes every figure.
    func testCapitalsStudyLeavesOutMultiTokenCandidates() throws {
        let r = try CapitalsStudy().run(try context(), output: dir)
        XCTAssertEqual(r.prompts, 2)
        let html = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Left out"), "names the dropped candidates")
        XCTAssertTrue(html.contains("Moscow"))
        for f in ["residual.svg", "residual_zoom.svg", "chained.svg", "country_map.svg", "countries.csv", "summary.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), f)
        }
        try parses(dir + "/residual.svg")
        try parses(dir + "/chained.svg")
        XCTAssertEqual(try count("class=\"series\"", in: dir + "/residual.svg"), 2, "one line per kept candidate")
        var s = CapitalsStudy()
        s.country = "Japan"
        XCTAssertThrowsError(try s.run(try context(), output: dir + "-japan"), "Tokyo is not one token here")
    }

    /// The studied head's attention pattern is a query x key heatmap whose CSV rows sum to 1 per
    /// query, over keys up to the query only, with the country token outlined in the last row.
    func testCapitalsStudyDrawsTheHeadsPattern() throws {
        let r = try CapitalsStudy().run(try context(), output: dir)
        let name = "pattern_L\(r.layer)H\(r.head)"
        try parses(dir + "/\(name).svg")
        let svg = try String(contentsOfFile: dir + "/\(name).svg", encoding: .utf8)
        let lines = try String(contentsOfFile: dir + "/\(name).csv", encoding: .utf8).split(separator: "\n").dropFirst()
        var sums: [Int: Double] = [:]
        for line in lines {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard let q = Int(cells[0]), let k = Int(cells[2]), let p = Double(cells[cells.count - 1]) else { return XCTFail("bad row \(line)") }
            XCTAssertLessThanOrEqual(k, q, "no key after its query")
            XCTAssertGreaterThanOrEqual(p, 0)
            sums[q, default: 0] += p
        }
        XCTAssertFalse(sums.isEmpty)
        for (q, total) in sums { XCTAssertEqual(total, 1, accuracy: 1e-4, "query \(q)") }
        let queries = sums.count
        XCTAssertEqual(svg.components(separatedBy: "<title>").count - 1 - 1, queries * queries, "a hover title per cell")
        XCTAssertEqual(svg.components(separatedBy: "stroke-width=\"1.6\"").count - 1, 1, "the country token outlined once")
        XCTAssertTrue(try String(contentsOfFile: dir + "/index.html", encoding: .utf8).contains("Attention pattern of L\(r.layer)H\(r.head)"))
    }
}

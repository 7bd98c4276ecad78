import Foundation
import FoundationXML
import PrismModel
import PrismStudies
import Prisms
import XCTest

/// The logit-lens heatmap of the capitals and addition reports on the fixture model: one cell per
/// prompt position and residual point with its value as hover text, the CSV one row per cell,
/// and the lens's last point at the last position equal to the model's own logit of the answer.
final class StudyLensTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws { dir = NSTemporaryDirectory() + "study-lens-\(UUID().uuidString)" }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func context() throws -> StudyContext { try StudyContext(loaded: LoadedModel.open(StudiesTests.fixtures + "/tiny-f32")) }

    /// Checks lens.svg / lens.csv in `dir` against `lens`; returns the CSV's data rows.
    func checkFigure(_ lens: StudyLens, positions: Int, layers: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let points = 1 + 2 * layers
        XCTAssertEqual(lens.points.count, points, file: file, line: line)
        XCTAssertEqual(lens.points.first, "blocks.0.resid_pre", file: file, line: line)
        XCTAssertEqual(lens.points.last, "blocks.\(layers - 1).resid_post", file: file, line: line)
        XCTAssertEqual(lens.logits.count, positions, file: file, line: line)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/lens.svg"))
        XCTAssertTrue(XMLParser(data: data).parse(), "lens.svg is not well-formed", file: file, line: line)
        let svg = String(decoding: data, as: UTF8.self)
        let cells = svg.components(separatedBy: "<g class=\"cells\">")[1].components(separatedBy: "</g>")[0]
        XCTAssertEqual(cells.components(separatedBy: "<title>").count - 1, positions * points, "a titled cell per position and point", file: file, line: line)
        XCTAssertEqual(
            svg.components(separatedBy: "stroke-width=\"1.6\"").count - 1, lens.firstTop == nil ? 0 : 1,
            "the point where the answer becomes top-1 at the last position outlined", file: file, line: line)
        let rows = try String(contentsOfFile: dir + "/lens.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 1 + positions * points, file: file, line: line)
        XCTAssertTrue(try String(contentsOfFile: dir + "/index.html", encoding: .utf8).contains("Own-norm logit lens of"), file: file, line: line)
    }

    func testCapitalsLens() throws {
        let ctx = try context()
        let f = try CapitalsStudy().compute(ctx)
        try CapitalsStudy().report(f, output: dir)
        let right = try XCTUnwrap(f.candidates.firstIndex(of: f.rightAnswer))
        XCTAssertEqual(f.lens.token, " " + f.rightAnswer)
        try checkFigure(f.lens, positions: f.ids.count, layers: ctx.model.config.numHiddenLayers)
        // Own norm at the last point is the model's final norm: the lens reads the model's logit.
        let last = try XCTUnwrap(f.lens.logits.last?.last)
        XCTAssertEqual(last, f.logits[right], accuracy: 1e-3 * max(1, abs(f.logits[right])))
    }

    func testAdditionLens() throws {
        let ctx = try context()
        let f = try AdditionStudy().compute(ctx)
        try AdditionStudy().report(f, output: dir)
        XCTAssertEqual(f.lens.token, "\(f.right)")
        try checkFigure(f.lens, positions: f.exampleTokens.count, layers: ctx.model.config.numHiddenLayers)
    }

    /// The lens reads every position but the last from the answer's unembedding row alone: it
    /// agrees with `LogitLens` (the full readout) at every position and point.
    func testDirectReadingAgreesWithLogitLens() throws {
        let ctx = try context()
        let id = try ctx.singleToken(" Paris")
        let (_, source, _, _) = try ctx.decompose("The capital city of France is", targets: [Target.token(id, label: "Paris")])
        let lens = try StudyLens.read(ctx, source, tokenId: id)
        let full = try LogitLens(prism: ctx.prism).run(
            source, positions: Array(source.tokenIds.indices), targets: [Target.token(id, label: "Paris")], mode: .own, top: 1, softcap: true)
        XCTAssertEqual(lens.logits.count, full.count)
        for (q, column) in full.enumerated() {
            for (i, point) in column.enumerated() {
                XCTAssertEqual(lens.logits[q][i], point.targets[0], accuracy: 1e-4 * max(1, abs(point.targets[0])), "position \(q), \(point.name)")
            }
        }
        XCTAssertEqual(lens.lastRanks, full.last?.map { $0.readings[0].first?.rank })
    }
}

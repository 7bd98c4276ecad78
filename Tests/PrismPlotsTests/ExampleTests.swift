import Foundation
import PrismPlots
import XCTest

final class ExampleTests: XCTestCase {
    /// Every example figure is well-formed SVG with the expected root attributes.
    func testExamplesAreValidSVG() {
        for (name, svg) in Examples.all + Examples.edgeCases {
            let doc = XMLSummary.parse(svg.text)
            XCTAssertNil(doc.failure, name)
            XCTAssertEqual(doc.root?.name, "svg", name)
            XCTAssertEqual(doc.root?.attributes["xmlns"], "http://www.w3.org/2000/svg", name)
            XCTAssertNotNil(doc.root?.attributes["viewBox"], name)
            XCTAssertEqual(doc.root?.attributes["width"], PlotFormat.trimmed(svg.width, decimals: 2), name)
            XCTAssertEqual(doc.root?.attributes["height"], PlotFormat.trimmed(svg.height, decimals: 2), name)
            XCTAssertFalse(svg.text.contains("nan"), name)
            XCTAssertFalse(svg.text.contains(" id="), "\(name): ids would collide when inlined together")
        }
    }

    /// Writes the examples and a report when PRISM_PLOTS_EXAMPLES names a directory.
    func testWriteExamples() throws {
        guard let dir = ProcessInfo.processInfo.environment["PRISM_PLOTS_EXAMPLES"], !dir.isEmpty else { return }
        let figures = Examples.all
        for (name, svg) in figures + Examples.edgeCases { try svg.write(to: dir + "/" + name + ".svg") }
        try Examples.report(figures).write(to: dir + "/report.html")
    }
}

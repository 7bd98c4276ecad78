import Foundation
import PrismPlots
import XCTest

/// Every series of a chart is told apart (colour and dash), and every mark says its value.
final class PaletteAndHoverTests: XCTestCase {
    private func series(_ n: Int) -> [Series] {
        (0..<n).map { Series(name: "s\($0)", values: [Double($0), Double($0) + 1]) }
    }

    /// The (stroke, dash) of each polyline, in series order.
    private func lineLooks(_ svg: SVG) -> [String] {
        let doc = XMLSummary.parse(svg.text)
        XCTAssertNil(doc.failure)
        return doc.all.filter { $0.name == "polyline" }.map { "\($0.attributes["stroke"] ?? "?") \($0.attributes["stroke-dasharray"] ?? "solid")" }
    }

    func testTwentyLineSeriesHaveDistinctColourAndDash() {
        for n in [2, 9, 12, 20, 27] {
            let looks = lineLooks(Chart.lines(title: "t", categories: ["a", "b"], series: series(n)))
            XCTAssertEqual(looks.count, n)
            XCTAssertEqual(Set(looks).count, n, "n = \(n): \(looks)")
        }
    }

    func testNineCandidatesGetNineColours() {
        let looks = lineLooks(Chart.lines(title: "t", categories: ["a", "b"], series: series(9)))
        XCTAssertEqual(Set(looks.map { $0.split(separator: " ")[0] }).count, 9, "\(looks)")
    }

    func testPalettesAreDistinctHexColours() {
        XCTAssertEqual(Set(Palette.tolMuted).count, Palette.tolMuted.count)
        XCTAssertGreaterThanOrEqual(Palette.tolMuted.count, 9)
        XCTAssertEqual(Set(Palette.dashes.map { $0 ?? "solid" }).count, Palette.dashes.count)
        for c in Palette.tolMuted { XCTAssertNotNil(c.range(of: "^#[0-9A-F]{6}$", options: .regularExpression), c) }
    }

    /// Later rounds also change the marker shape, so a dashed twin is told apart by its points too.
    func testLaterRoundsChangeMarkerShape() {
        let svg = Chart.lines(title: "t", categories: ["a", "b"], series: series(10))
        let doc = XMLSummary.parse(svg.text)
        XCTAssertGreaterThan(doc.count("polygon"), 0)
        XCTAssertGreaterThan(doc.count("circle"), 0)
    }

    func testEveryHeatmapCellHasItsValueAsTitle() {
        let values: [[Double]] = [[1.25, -3.5, .nan], [0, 42, 0.001]]
        let svg = Chart.heatmap(title: "h", rows: ["r0", "r1"], columns: ["c0", "c1", "c2"], values: values)
        XCTAssertNil(XMLSummary.parse(svg.text).failure)
        for (r, row) in values.enumerated() {
            for (c, v) in row.enumerated() where v.isFinite {
                XCTAssertTrue(svg.text.contains("<title>r\(r), c\(c): \(PlotFormat.significant(v))</title>"), "cell \(r),\(c)")
            }
        }
        XCTAssertTrue(svg.text.contains("<title>r0, c2: missing</title>"))
    }

    func testBarsAndPointsCarryTheirValues() {
        let bars = Chart.facetedBars(
            title: "f", panels: [BarPanel(title: "France", categories: ["Paris", "Tokyo"], values: [2.5, -1.75], highlight: 0)], columns: 1)
        XCTAssertTrue(bars.text.contains("<title>France, Paris: 2.5</title>"), bars.text)
        XCTAssertTrue(bars.text.contains("<title>France, Tokyo: -1.75</title>"))
        let lines = Chart.lines(title: "l", categories: ["a0", "m0"], series: [Series(name: "Paris", values: [0.125, 3])])
        XCTAssertTrue(lines.text.contains("<title>Paris, a0: 0.125</title>"))
        let stacked = Chart.stackedBars(title: "s", categories: ["x"], stacks: [Series(name: "n1", values: [1.5]), Series(name: "n2", values: [-0.5])])
        XCTAssertTrue(stacked.text.contains("<title>n2, x: -0.5</title>"))
        XCTAssertTrue(stacked.text.contains("<title>total, x: 1</title>"))
    }

    func testScatterPointsCarryTheirCoordinates() {
        let svg = Chart.scatter(title: "s", points: [ScatterPoint(x: 1.5, y: -0.25, label: "7")], xLabel: "PC1", yLabel: "PC2")
        XCTAssertTrue(svg.text.contains("<title>7: (1.5, -0.25)</title>"), svg.text)
    }

    func testSignificantFormatting() {
        XCTAssertEqual(PlotFormat.significant(15.4312), "15.43")
        XCTAssertEqual(PlotFormat.significant(-2.5), "-2.5")
        XCTAssertEqual(PlotFormat.significant(0.00123456), "0.001235")
        XCTAssertEqual(PlotFormat.significant(0), "0")
        XCTAssertEqual(PlotFormat.significant(1234567), "1.23e+06")
    }
}

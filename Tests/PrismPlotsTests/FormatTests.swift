import PrismPlots
import XCTest

final class FormatTests: XCTestCase {
    func testFixed() {
        XCTAssertEqual(PlotFormat.fixed(1.5, decimals: 0), "2")
        XCTAssertEqual(PlotFormat.fixed(-1.5, decimals: 0), "-2")
        XCTAssertEqual(PlotFormat.fixed(3.14159, decimals: 3), "3.142")
        XCTAssertEqual(PlotFormat.fixed(-0.0001, decimals: 2), "0.00")
        XCTAssertEqual(PlotFormat.fixed(-0.0, decimals: 1), "0.0")
        XCTAssertEqual(PlotFormat.fixed(0.05, decimals: 3), "0.050")
        XCTAssertEqual(PlotFormat.fixed(1234567.25, decimals: 1), "1234567.3")
        XCTAssertEqual(PlotFormat.fixed(.nan, decimals: 2), "nan")
        XCTAssertEqual(PlotFormat.fixed(-.infinity, decimals: 2), "-inf")
        XCTAssertEqual(PlotFormat.fixed(1e30, decimals: 2), "1e+30")
    }

    func testTrimmed() {
        XCTAssertEqual(PlotFormat.trimmed(1.50, decimals: 2), "1.5")
        XCTAssertEqual(PlotFormat.trimmed(2.0, decimals: 2), "2")
        XCTAssertEqual(PlotFormat.trimmed(-0.004, decimals: 2), "0")
        XCTAssertEqual(PlotFormat.trimmed(100, decimals: 2), "100")
    }

    /// Nice ticks come in 1-2-5 steps and frame the data; labels show just enough decimals.
    func testTickLabelsOnAxes() {
        func tickTexts(_ values: [Double]) -> [String] {
            let svg = Chart.lines(
                title: "", categories: values.map { _ in "c" },
                series: [Series(name: "s", values: values)], size: Size(width: 600, height: 400))
            // Y tick labels are the right-aligned grey texts, written bottom to top.
            return XMLSummary.parse(svg.text).textElements
                .filter { $0.attributes["text-anchor"] == "end" && $0.attributes["fill"] == "#555555" }
                .map(\.text)
        }
        XCTAssertEqual(tickTexts([0, 9.7]), ["0", "2", "4", "6", "8", "10"])
        XCTAssertEqual(tickTexts([-0.37, 0.39]), ["\u{2212}0.4", "\u{2212}0.2", "0.0", "0.2", "0.4"])
        XCTAssertEqual(tickTexts([0, 3e7]).last, "3e7")
        XCTAssertEqual(tickTexts([0, 0.00003]).last, "3e\u{2212}5")
    }

    func testCSV() {
        let text = CSV.render(
            headers: ["token", "value"],
            rows: [["Paris", "1.5"], ["a,b", "say \"hi\""], ["\r\n", " x"]])
        XCTAssertEqual(text, "token,value\nParis,1.5\n\"a,b\",\"say \"\"hi\"\"\"\n\"\r\n\",\" x\"\n")
        let s = CSV.series(
            categories: ["a0", "m0"],
            series: [
                Series(name: "Paris", values: [1, .nan]),
                Series(name: "Rome", values: [-0.25]),
            ], decimals: 2)
        XCTAssertEqual(s, "category,Paris,Rome\na0,1.00,-0.25\nm0,,\n")
    }

    func testPalette() {
        XCTAssertEqual(Palette.diverging(0), "#FFFFFF")
        XCTAssertEqual(Palette.diverging(1), "#67001F")
        XCTAssertEqual(Palette.diverging(-1), "#053061")
        XCTAssertEqual(Palette.diverging(5), "#67001F", "clamped")
        XCTAssertEqual(Palette.diverging(.nan), Palette.missing)
        XCTAssertEqual(Set(Palette.okabeIto).count, 8)
    }
}

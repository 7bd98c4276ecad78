import Foundation
import PrismPlots
import XCTest

/// Each chart kind: well-formed, the right number of series, escaping, missing values.
final class ChartTests: XCTestCase {
    static let nasty = "<&\"'> ▁Paris <0x0A>"

    private func parse(_ svg: SVG, file: StaticString = #filePath, line: UInt = #line) -> XMLSummary {
        let doc = XMLSummary.parse(svg.text)
        XCTAssertNil(doc.failure, "not well-formed: \(doc.failure ?? "")\n\(svg.text.prefix(2000))", file: file, line: line)
        XCTAssertEqual(doc.root?.name, "svg", file: file, line: line)
        XCTAssertFalse(svg.text.contains("nan"), "a NaN reached the output", file: file, line: line)
        XCTAssertFalse(svg.text.contains("inf"), "an infinity reached the output", file: file, line: line)
        return doc
    }

    func testLinesCountsSeriesAndShowsLegend() {
        let cats = ["Embed", "a0", "m0", "a1", "m1"]
        let series = ["Paris", "Moscow", "Hanoi"].enumerated().map { k, name in
            Series(name: name, values: cats.indices.map { Double($0 * (k + 1)) - 3 })
        }
        let doc = parse(Chart.lines(title: "t", categories: cats, series: series, xLabel: "component", yLabel: "logit"))
        XCTAssertEqual(doc.count(class: "series"), 3)
        XCTAssertEqual(doc.count("polyline"), 3)
        XCTAssertEqual(doc.count(class: "legend"), 1)
        for name in ["Paris", "Moscow", "Hanoi", "Embed", "m1", "component", "logit"] {
            XCTAssertTrue(doc.texts.contains(name), name)
        }
        // Tick labels use a typographic minus.
        XCTAssertTrue(doc.texts.contains { $0.hasPrefix("\u{2212}") })
    }

    func testLinesWindowShowsOnlyThoseCategories() {
        let cats = (0..<20).map { "c\($0)" }
        let s = Series(name: "s", values: (0..<20).map { $0 < 17 ? 1000 : Double($0) })
        let doc = parse(Chart.lines(title: "zoom", categories: cats, series: [s], window: 17..<25))
        XCTAssertTrue(doc.texts.contains("c19"))
        XCTAssertFalse(doc.texts.contains("c16"))
        // The y axis fits the visible values (17..19), not the hidden 1000s.
        XCTAssertFalse(doc.texts.contains("1000"))
        let circles = doc.with("circle", "r", "2.6")
        XCTAssertEqual(circles.count, 3)
    }

    func testLinesBreakAtMissingValues() {
        let cats = ["a", "b", "c", "d", "e", "f"]
        let s = Series(name: "gappy", values: [1, 2, .nan, 3, .infinity, 4])
        let doc = parse(Chart.lines(title: "gaps", categories: cats, series: [s], markers: false))
        XCTAssertEqual(doc.count(class: "series"), 1)
        XCTAssertEqual(doc.count("polyline"), 1, "runs [1,2] and [3] and [4]: one line, two isolated points")
        XCTAssertEqual(doc.count("circle"), 2, "isolated points get markers even without markers")
    }

    func testAllMissingAndEmptyInputsStillDraw() {
        let none = Series(name: "none", values: [.nan, .nan])
        var doc = parse(Chart.lines(title: "", categories: ["a", "b"], series: [none]))
        XCTAssertEqual(doc.count(class: "no-data"), 1)
        doc = parse(Chart.lines(title: "", categories: [], series: []))
        XCTAssertEqual(doc.count(class: "series"), 0)
        _ = parse(Chart.smallMultiples(title: "", panels: [], columns: 3))
        _ = parse(Chart.smallMultiples(title: "", panels: [Panel(title: "p", categories: [], series: [])], columns: 0))
        _ = parse(Chart.facetedBars(title: "", panels: [], columns: 2))
        _ = parse(Chart.stackedBars(title: "", categories: [], stacks: []))
        _ = parse(Chart.scatter(title: "", points: []))
        _ = parse(Chart.scatter(title: "", points: [ScatterPoint(x: .nan, y: 1, label: "x")], pathOrder: [0, 5], closePath: true))
        _ = parse(Chart.heatmap(title: "", rows: [], columns: [], values: []))
        _ = parse(Chart.heatmap(title: "", rows: ["r"], columns: ["c"], values: [[.nan]]))
        _ = parse(Chart.heatmap(title: "", rows: ["r", "s"], columns: ["c", "d"], values: [[1]]))
    }

    func testLabelsAreEscapedAndRoundTrip() {
        let n = Self.nasty
        let svgs = [
            Chart.lines(title: n, categories: [n, "b"], series: [Series(name: n, values: [1, 2])], xLabel: n, yLabel: n),
            Chart.smallMultiples(
                title: n, panels: [Panel(title: n, categories: [n], series: [Series(name: n, values: [1])])],
                columns: 1, xLabel: n, yLabel: n),
            Chart.facetedBars(
                title: n, panels: [BarPanel(title: n, categories: [n], values: [1], highlight: 0)],
                columns: 1, highlightLabel: n),
            Chart.stackedBars(title: n, categories: [n], stacks: [Series(name: n, values: [1])], totalLabel: n),
            Chart.scatter(title: n, points: [ScatterPoint(x: 0, y: 0, label: n)], xLabel: n, yLabel: n),
            Chart.heatmap(title: n, rows: [n], columns: [n], values: [[1]], colorLabel: n, xLabel: n, yLabel: n),
        ]
        for svg in svgs {
            let doc = parse(svg)
            XCTAssertTrue(doc.texts.contains(n), "the label survives escaping intact")
            XCTAssertFalse(svg.text.contains("<0x0A>"), "raw '<' must not reach the markup")
        }
    }

    func testControlCharactersBecomeVisibleEscapes() {
        let svg = Chart.lines(
            title: "tokens", categories: ["\n", "\t", "a\u{0}b"],
            series: [Series(name: "x\u{7}", values: [1, 2, 3])])
        let doc = parse(svg)
        XCTAssertTrue(doc.texts.contains("\\n"))
        XCTAssertTrue(doc.texts.contains("\\t"))
        XCTAssertTrue(doc.texts.contains("a\\u{0}b"))
        XCTAssertTrue(doc.texts.contains("x\\u{7}"))
    }

    func testLongLabelsAreTruncated() {
        let long = String(repeating: "very long token ", count: 10)
        let doc = parse(Chart.lines(title: "t", categories: [long, long + "2"], series: [Series(name: long, values: [1, 2])]))
        let cut = doc.texts.filter { $0.hasSuffix("…") }
        XCTAssertEqual(cut.count, 3, "two axis labels and one legend entry")
        XCTAssertTrue(cut.allSatisfy { $0.count <= Style().maxLabelLength })
    }

    func testManyCategoriesRotateLabels() {
        let cats = ["Embed"] + (0..<18).flatMap { ["a\($0)", "m\($0)"] }
        let svg = Chart.lines(title: "t", categories: cats, series: [Series(name: "s", values: cats.map { _ in 1 })])
        XCTAssertTrue(svg.text.contains("rotate(-45"))
        let few = Chart.lines(title: "t", categories: ["a", "b"], series: [Series(name: "s", values: [1, 2])])
        XCTAssertFalse(few.text.contains("rotate(-45"))
    }

    func testSmallMultiplesCountPanelsAndSeries() {
        let tokens = ["<bos>", "The", "▁capital"]
        let panels = (0..<8).map { h in
            Panel(
                title: "head \(h)", categories: tokens,
                series: ["Paris", "Rome"].map { Series(name: $0, values: [Double(h), -1, 2]) })
        }
        let doc = parse(Chart.smallMultiples(title: "heads", panels: panels, columns: 4, yLabel: "logit"))
        XCTAssertEqual(doc.count(class: "panel"), 8)
        XCTAssertEqual(doc.count(class: "series"), 16)
        XCTAssertEqual(doc.count(class: "panel-title"), 8)
        // Shared categories: labelled only in the bottom row (4 panels x 3 tokens).
        XCTAssertEqual(doc.texts.filter { $0 == "<bos>" }.count, 4)
        // The same name keeps its colour in every panel.
        let strokes = Set(doc.all.filter { $0.name == "polyline" }.compactMap { $0.attributes["stroke"] })
        XCTAssertEqual(strokes.count, 2)
    }

    func testSmallMultiplesOfBars() {
        let panels = (0..<4).map { k in
            Panel(
                title: "N\(k)", categories: (0..<10).map(String.init),
                series: [Series(name: "template", values: (0..<10).map { Double($0 - k) })])
        }
        let doc = parse(Chart.smallMultiples(title: "templates", panels: panels, columns: 2, sharedY: false, kind: .bars))
        XCTAssertEqual(doc.count(class: "series"), 4)
        XCTAssertEqual(doc.count(class: "legend"), 0, "a single series needs no legend")
        XCTAssertEqual(doc.count("rect") - 1, 40, "one bar per digit per panel (plus the background)")
    }

    func testFacetedBarsHighlightOneBarPerPanel() {
        let cities = ["Moscow", "Hanoi", "Paris"]
        let panels = ["Russia", "Vietnam", "France", "Nowhere"].enumerated().map { k, country in
            BarPanel(title: country, categories: cities, values: [1, -2, 3], highlight: k < 3 ? k : 99)
        }
        let doc = parse(
            Chart.facetedBars(
                title: "capitals", panels: panels, columns: 2, yLabel: "logit",
                highlightLabel: "correct"))
        XCTAssertEqual(doc.count(class: "highlight"), 3, "out-of-range highlight is ignored")
        XCTAssertEqual(doc.count(class: "series"), 4)
        XCTAssertTrue(doc.texts.contains("correct"))
        let highlighted = doc.with("rect", "class", "highlight")
        XCTAssertTrue(highlighted.allSatisfy { $0["fill"] == Style().highlightColor && $0["stroke"] != nil })
    }

    func testStackedBarsStackSignedPartsFromZero() {
        let cats = ["0", "1"]
        let stacks = [
            Series(name: "n1", values: [2, -1]), Series(name: "n2", values: [-3, -1]),
            Series(name: "n3", values: [1, .nan]),
        ]
        let doc = parse(Chart.stackedBars(title: "digits", categories: cats, stacks: stacks, yLabel: "logit"))
        XCTAssertEqual(doc.count(class: "series"), 3)
        XCTAssertEqual(doc.count(class: "totals"), 1)
        // Bar 0: +2 then +1 stacked upwards from 0 to 3; -3 downwards from 0.
        // Find the pixel scale from the two positive parts of bar 0, which must touch.
        let bars = doc.all.filter { $0.name == "rect" && $0.attributes["stroke"] == "#FFFFFF" }.map { e in
            (
                y: Double(e.attributes["y"] ?? "") ?? .nan, h: Double(e.attributes["height"] ?? "") ?? .nan,
                x: Double(e.attributes["x"] ?? "") ?? .nan
            )
        }
        XCTAssertEqual(bars.count, 5)
        let bar0 = bars.filter { abs($0.x - bars[0].x) < 0.01 }
        XCTAssertEqual(bar0.count, 3)
        let n1 = bar0[0], n2 = bar0[1], n3 = bar0[2]
        XCTAssertEqual(n3.y + n3.h, n1.y, accuracy: 0.02, "n3 sits on top of n1")
        XCTAssertEqual(n2.y, n1.y + n1.h, accuracy: 0.02, "n2 hangs below zero, where n1 starts")
        XCTAssertEqual(n2.h / n1.h, 1.5, accuracy: 0.01)
        // Totals: 0 for bar 0, -2 for bar 1.
        XCTAssertEqual(doc.all.filter { $0.name == "circle" && $0.attributes["r"] == "3" }.count, 3, "2 totals + legend")
        let noTotal = parse(Chart.stackedBars(title: "", categories: cats, stacks: stacks, showTotal: false))
        XCTAssertEqual(noTotal.count(class: "totals"), 0)
    }

    func testScatterPathAndEqualAspect() {
        let pts = [
            ScatterPoint(x: 0, y: 0, label: "0"), ScatterPoint(x: 10, y: 0, label: "1"),
            ScatterPoint(x: 0, y: 1, label: "2"), ScatterPoint(x: .nan, y: 0, label: "bad"),
        ]
        let svg = Chart.scatter(
            title: "pca", points: pts, pathOrder: [0, 1, 2, 3], closePath: true,
            xLabel: "PC1", yLabel: "PC2", equalAspect: true, size: Size(width: 500, height: 500))
        let doc = parse(svg)
        XCTAssertEqual(doc.count(class: "series"), 1)
        XCTAssertEqual(doc.count(class: "point-label"), 3)
        XCTAssertFalse(doc.texts.contains("bad"))
        let path = doc.all.first { $0.name == "polyline" }?.attributes["points"] ?? ""
        XCTAssertEqual(path.split(separator: " ").count, 4, "three valid points, closed back to the first")
        let c = doc.all.filter { $0.name == "circle" }.map { (Double($0.attributes["cx"] ?? "") ?? .nan, Double($0.attributes["cy"] ?? "") ?? .nan) }
        XCTAssertEqual(c.count, 3)
        let dx = abs(c[1].0 - c[0].0), dy = abs(c[2].1 - c[0].1)
        XCTAssertEqual(dx / dy, 10, accuracy: 0.05, "one unit has the same length on both axes")
    }

    func testHeatmapColoursAndCells() {
        let values: [[Double]] = [[0, 2, -2], [1, .nan, -1]]
        let svg = Chart.heatmap(
            title: "layers x heads", rows: ["l0", "l1"], columns: ["h0", "h1", "h2"],
            values: values, colorLabel: "logit", annotate: true)
        let doc = parse(svg)
        let cells = doc.all.filter { $0.name == "rect" && $0.attributes["shape-rendering"] == "crispEdges" }
        XCTAssertEqual(cells.count, 6)
        XCTAssertEqual(
            cells.map { $0.attributes["fill"] ?? "" },
            ["#FFFFFF", "#67001F", "#053061", Palette.diverging(0.5), Palette.missing, Palette.diverging(-0.5)])
        XCTAssertEqual(doc.count(class: "colorbar"), 1)
        XCTAssertTrue(doc.texts.contains("\u{2212}2.00"), "annotations with a typographic minus")
        XCTAssertTrue(doc.texts.contains("logit"))
        // A shared limit makes the same value paler.
        let wide = parse(Chart.heatmap(title: "", rows: ["r"], columns: ["c"], values: [[2]], limit: 4))
        XCTAssertTrue(wide.all.contains { $0.attributes["fill"] == Palette.diverging(0.5) })
        // Sequential: zero is white, the maximum the darkest red.
        let seq = parse(Chart.heatmap(title: "", rows: ["r"], columns: ["a", "b"], values: [[0, 0.5]], scale: .sequential))
        let seqFills = seq.all.filter { $0.attributes["shape-rendering"] == "crispEdges" }.map { $0.attributes["fill"] ?? "" }
        XCTAssertEqual(seqFills, ["#FFFFFF", "#67001F"])
    }

    /// Hostile numbers and sizes give a valid (if odd-looking) drawing, never a crash.
    func testExtremeInputsDoNotCrash() {
        let huge = Series(name: "huge", values: [-1e308, 1e308, .greatestFiniteMagnitude, -.infinity, Double.leastNonzeroMagnitude])
        let cats = ["a", "b", "c", "d", "e"]
        let bad = Size(width: .nan, height: -5)
        let long = String(repeating: "x", count: 50_000)
        var style = Style()
        style.fontSize = .nan
        style.palette = []
        style.maxLabelLength = -3
        _ = parse(Chart.lines(title: long, categories: cats, series: [huge], size: bad, style: style))
        _ = parse(Chart.lines(title: "", categories: cats, series: [Series(name: "tiny", values: [1e-300, 2e-300])]))
        _ = parse(
            Chart.smallMultiples(
                title: "", panels: [Panel(title: long, categories: cats, series: [huge])],
                columns: -2, panelSize: bad, style: style))
        _ = parse(
            Chart.facetedBars(
                title: "", panels: [BarPanel(title: "", categories: cats, values: huge.values, highlight: -1)],
                columns: 1))
        _ = parse(Chart.stackedBars(title: "", categories: cats, stacks: [huge, huge], size: bad))
        _ = parse(
            Chart.scatter(
                title: "",
                points: [
                    ScatterPoint(x: -1e308, y: 1e308, label: long),
                    ScatterPoint(x: 1e308, y: -1e308, label: ""),
                ],
                pathOrder: [1, 0, -1], closePath: true, equalAspect: true, size: bad))
        _ = parse(
            Chart.heatmap(
                title: "", rows: ["r"], columns: cats, values: [huge.values], limit: .nan,
                annotate: true, cell: bad))
        _ = parse(Chart.heatmap(title: "", rows: ["r"], columns: ["c"], values: [[0]], limit: 0))
    }

    func testOutputIsDeterministic() {
        for (name, svg) in Examples.all {
            let again = Examples.all.first { $0.0 == name }?.1
            XCTAssertEqual(svg.text, again?.text, name)
        }
    }

    func testWriteCreatesDirectories() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prismplots-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = Chart.lines(title: "t", categories: ["a"], series: [Series(name: "s", values: [1])])
        let path = dir.appendingPathComponent("nested/fig.svg").path
        try svg.write(to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), svg.text)
    }
}

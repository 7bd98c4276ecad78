import Foundation
import PrismPlots
import XCTest

final class HTMLReportTests: XCTestCase {
    private func sampleReport() -> (HTMLReport, [SVG]) {
        let a = Chart.lines(title: "first", categories: ["a", "b"], series: [Series(name: "s", values: [1, 2])])
        let b = Chart.heatmap(title: "second", rows: ["r"], columns: ["c"], values: [[1]])
        var r = HTMLReport(title: "Report <&>", subtitle: "about `prism`")
        r.keyValues([(key: "prompt", value: "The capital of France is")])
        r.heading("Residual stream")
        r.paragraph("Text with <script>alert('x')</script> & a `code` span and a lone ` backtick.")
        r.figure(a, caption: "Lines \"quoted\".", files: ["figs/first.svg", "figs/first data.csv", "https://example.com/x"])
        r.heading("Heads")
        r.bullets(["one", "two <b>"])
        r.code("prism decompose --prompt \"x < y\"")
        r.figure(b, caption: "Heatmap.")
        r.table(
            headers: ["name", "value"], rows: [["Paris", "1.50"], ["<0x0A>", "-2.00", "extra"]],
            numericColumns: [1], caption: "Values.")
        return (r, [a, b])
    }

    func testReportIsWellFormedAndInlinesFigures() {
        let (report, svgs) = sampleReport()
        let html = report.render()
        let doc = XMLSummary.parse(html)
        XCTAssertNil(doc.failure, doc.failure ?? "")
        XCTAssertEqual(doc.root?.name, "html")
        for svg in svgs { XCTAssertTrue(html.contains(svg.text), "SVG inlined verbatim") }
        XCTAssertEqual(doc.count("svg"), 2)
        XCTAssertEqual(doc.count("figure"), 2)
        XCTAssertEqual(doc.count("table"), 1)
        XCTAssertEqual(doc.count("td"), 6, "short rows padded to the widest row")
        XCTAssertEqual(doc.count("code"), 3, "two inline spans and the code block")
        XCTAssertEqual(doc.count("script"), 0)
        XCTAssertTrue(html.contains("&lt;script&gt;"))
        XCTAssertTrue(html.contains("Figure 2."))
        XCTAssertTrue(html.contains("Table 1."))
        XCTAssertTrue(html.contains("lone ` backtick"))
        XCTAssertTrue(html.contains("<td class=\"num\">1.50</td>"))
        XCTAssertTrue(html.contains("@media print"))
        XCTAssertTrue(html.contains("break-inside: avoid"))
        XCTAssertTrue(html.contains("<a href=\"#sec-2\">Heads</a>"), "contents list")
    }

    func testReportHasNoExternalReferences() {
        let html = sampleReport().0.render()
        var rest = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        rest = rest.lowercased()
        XCTAssertFalse(rest.contains("http://"))
        XCTAssertFalse(rest.contains("https://"))
        XCTAssertFalse(rest.contains("<script"))
        XCTAssertFalse(rest.contains("<link"))
        XCTAssertFalse(rest.contains("@import"))
        XCTAssertFalse(rest.contains("url("))
        XCTAssertTrue(html.contains("href=\"figs/first.svg\""))
        XCTAssertTrue(html.contains("href=\"figs/first%20data.csv\""))
        XCTAssertTrue(html.contains("href=\"https%3A//example.com/x\""), "an absolute URL is neutralised")
    }

    func testReportIsDeterministicAndWritable() throws {
        let (a, _) = sampleReport(), (b, _) = sampleReport()
        XCTAssertEqual(a.render(), b.render())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prismplots-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("report.html").path
        try a.write(to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), a.render())
    }

    func testExampleReportParses() {
        let html = Examples.report(Examples.all).render()
        let doc = XMLSummary.parse(html)
        XCTAssertNil(doc.failure, doc.failure ?? "")
        XCTAssertEqual(doc.count("svg"), Examples.all.count)
    }
}

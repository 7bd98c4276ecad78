// Example figures shaped like the paper's, from deterministic made-up data. The tests check
// them; with PRISM_PLOTS_EXAMPLES=/some/dir set, testWriteExamples also writes them there
// (SVG, plus a report) to be rendered and looked at.

import Foundation
import PrismPlots

/// A small deterministic generator (64-bit LCG) so examples are the same on every run.
struct Noise {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * 2 - 1
    }
}

enum Examples {
    static let candidates = ["Paris", "Moscow", "Hanoi", "Tokyo", "Berlin", "Rome", "Madrid", "Lima", "Cairo", "Ottawa"]

    static var components: [String] {
        ["Embed"] + (0..<18).flatMap { ["a\($0)", "m\($0)"] }
    }

    /// Figure 1: residual-stream components against candidate answers.
    static func residual(window: Range<Int>? = nil) -> SVG {
        var noise = Noise(1)
        let n = components.count
        let series = candidates.enumerated().map { k, name in
            Series(
                name: name,
                values: (0..<n).map { i in
                    let late = Double(i) / Double(n)
                    let boost = k == 0 && i > n - 8 ? 4.0 * late : 0
                    return noise.next() * 1.5 * late + boost
                })
        }
        return Chart.lines(
            title: window == nil ? "Logit contributions by component" : "Last components (zoom)",
            categories: components, series: series, xLabel: "component",
            yLabel: "logit contribution", window: window)
    }

    /// Figure 2: per-head contributions over source tokens.
    static func heads() -> SVG {
        var noise = Noise(2)
        let tokens = ["<bos>", "The", "▁capital", "▁of", "▁France", "▁is", "\n", "<0x0A>", "Answer", ":"]
        let panels = (0..<8).map { h in
            Panel(
                title: "head \(h)", categories: tokens,
                series: candidates.prefix(3).map { name in
                    Series(name: name, values: tokens.indices.map { _ in noise.next() * Double(h + 1) * 0.3 })
                })
        }
        return Chart.smallMultiples(
            title: "Layer 17 heads by source token", panels: panels, columns: 4,
            xLabel: "source token", yLabel: "contribution", sharedY: true)
    }

    /// Figure 3: one panel per country, bars = candidate cities, correct city highlighted.
    static func countries() -> SVG {
        var noise = Noise(3)
        let countries = ["Russia", "Vietnam", "France", "Japan", "Germany", "Italy", "Spain", "Peru", "Egypt"]
        let cities = ["Moscow", "Hanoi", "Paris", "Tokyo", "Berlin", "Rome", "Madrid", "Lima", "Cairo"]
        let panels = countries.enumerated().map { k, country in
            BarPanel(
                title: country, categories: cities,
                values: cities.indices.map { $0 == k ? 6 + noise.next() : noise.next() * 2 }, highlight: k)
        }
        return Chart.facetedBars(
            title: "Country-to-capital contributions", panels: panels, columns: 3,
            yLabel: "logit", highlightLabel: "correct capital")
    }

    /// Figure 4: neuron templates over the ten digits.
    static func templates() -> SVG {
        var noise = Noise(4)
        let digits = (0..<10).map(String.init)
        let panels = (0..<6).map { k in
            Panel(
                title: "L16 N\(1000 + 37 * k)", categories: digits,
                series: [
                    Series(
                        name: "template",
                        values: digits.indices.map { d in
                            (d == k ? 3 : 0) + noise.next()
                        })
                ])
        }
        return Chart.smallMultiples(
            title: "Neuron templates over digits", panels: panels, columns: 3,
            xLabel: "digit", yLabel: "logit", sharedY: false, kind: .bars)
    }

    /// Figure 5: digit logits stacked from the top neurons' contributions.
    static func stacked() -> SVG {
        var noise = Noise(5)
        let stacks = (0..<6).map { k in
            Series(name: "L16 N\(1000 + 37 * k)", values: (0..<10).map { d in (d == 7 ? 1.5 : 0.4) * noise.next() * Double(k + 1) })
        }
        return Chart.stackedBars(
            title: "Digit logits from the top neurons", categories: (0..<10).map(String.init),
            stacks: stacks, xLabel: "output digit", yLabel: "logit contribution")
    }

    /// Figure 6: PCA of the digit unembeddings, joined 0-1-...-9-0.
    static func pca() -> SVG {
        let points = (0..<10).map { d -> ScatterPoint in
            let a = Double(d) / 10 * 2 * Double.pi
            return ScatterPoint(x: 3 * cos(a) + 0.3 * sin(3 * a), y: 1.6 * sin(a), label: String(d))
        }
        return Chart.scatter(
            title: "Digit unembeddings, first two principal components", points: points,
            pathOrder: Array(0..<10), closePath: true,
            xLabel: "PC1 (31.2% of variance)", yLabel: "PC2 (12.5% of variance)", equalAspect: true)
    }

    /// Figure 7: layers x heads contributions on a diverging scale.
    static func layersHeads() -> SVG {
        var noise = Noise(7)
        let values = (0..<18).map { l in (0..<8).map { _ in noise.next() * Double(l) / 6 } }
        return Chart.heatmap(
            title: "Head contributions to the \"Paris\" logit",
            rows: (0..<18).map { "layer \($0)" }, columns: (0..<8).map { "h\($0)" },
            values: values, colorLabel: "logit contribution", xLabel: "head", yLabel: "",
            annotate: true)
    }

    /// Figure 7b: an attention pattern, long token labels.
    static func attention() -> SVG {
        let tokens = ["<bos>", "The", "▁capital", "▁of", "▁France", "▁is", "▁a", "▁city", "▁called"]
        var noise = Noise(8)
        let values = tokens.indices.map { q in tokens.indices.map { k in k <= q ? abs(noise.next()) / Double(q + 1) : Double.nan } }
        return Chart.heatmap(
            title: "Attention, layer 12 head 3", rows: tokens, columns: tokens, values: values,
            colorLabel: "attention weight", xLabel: "key", yLabel: "query", scale: .sequential, cell: Size(width: 30, height: 30))
    }

    static var all: [(String, SVG)] {
        [
            ("residual", residual()), ("residual_zoom", residual(window: components.count - 6..<components.count)),
            ("heads", heads()), ("countries", countries()), ("templates", templates()), ("stacked", stacked()),
            ("pca", pca()), ("layers_heads", layersHeads()), ("attention", attention()),
        ]
    }

    /// Awkward inputs, to look at: long rotated labels, all-negative values, gaps, one point.
    static var edgeCases: [(String, SVG)] {
        let tokens = ["<bos>", "Question: what is the capital of France?", "\n", "A & B \"quoted\"", "▁Paris", "x"]
        let gappy = Series(name: "with gaps", values: [-1, -2, .nan, -4, -3, .nan])
        let neg = Series(name: "all negative, with a rather long series name", values: [-0.5, -0.7, -0.2, -0.9, -0.1, -0.3])
        return [
            (
                "edge_lines",
                Chart.lines(
                    title: "Long labels, gaps and negative values", categories: tokens,
                    series: [gappy, neg], xLabel: "token", yLabel: "value", size: Size(width: 640, height: 380))
            ),
            ("edge_single", Chart.lines(title: "One category", categories: ["only"], series: [Series(name: "s", values: [2.5])])),
            (
                "edge_facets",
                Chart.facetedBars(
                    title: "Own scales",
                    panels: [
                        BarPanel(title: "small", categories: ["a", "b", "c"], values: [0.01, -0.02, 0.005], highlight: 1),
                        BarPanel(title: "large with a very long panel title indeed", categories: ["a", "b", "c"], values: [100, 250, -40]),
                    ], columns: 2, yLabel: "logit", sharedY: false)
            ),
            (
                "edge_scatter",
                Chart.scatter(
                    title: "Free aspect",
                    points: (0..<12).map {
                        ScatterPoint(x: Double($0) * 100, y: sin(Double($0)), label: "p\($0)")
                    }, pathOrder: Array(0..<12), xLabel: "x", yLabel: "y")
            ),
            ("edge_empty", Chart.heatmap(title: "Empty heatmap with a long title that is wider than the grid", rows: [], columns: [], values: [])),
        ]
    }

    static func report(_ figures: [(String, SVG)]) -> HTMLReport {
        var r = HTMLReport(title: "PrismPlots examples", subtitle: "Made-up data shaped like the paper's figures")
        r.keyValues([(key: "model", value: "gemma-3-1b (example)"), (key: "prompt", value: "The capital of France is")])
        r.heading("Figures")
        r.paragraph("Each figure is inlined; the `.svg` files next to this page are the same drawings.")
        for (name, svg) in figures {
            r.figure(svg, caption: "Example \"\(name)\".", files: ["\(name).svg"])
        }
        r.heading("Numbers")
        r.table(
            headers: ["candidate", "logit", "rank"],
            rows: [["Paris", "12.50", "1"], ["Moscow", "-3.25", "2"], ["<0x0A> & \"quotes\"", "0.00", "3"]],
            numericColumns: [1, 2], caption: "Final logits.")
        return r
    }
}

import Foundation
import PrismModel
import PrismPlots
import PrismSupport
import Prisms

/// The article's second study: "a+b=" with the ten digits as candidates. Which MLP layer
/// carries the answer, and how its top neurons' "templates" (their contributions to the ten
/// digit logits) interfere into a sum that peaks at the right digit.
public struct AdditionStudy {
    public var template = "{a}+{b}="
    public var example = (a: 7, b: 2)
    public var digits = 1...9
    /// Neurons studied: the layer's neurons whose contributions spread most across the ten
    /// digits (chosen without looking at which digit is right).
    public var neurons = 8
    public var layer: Int?

    public init() {}

    public struct Result {
        public var layer: Int
        public var peaksRight: Int
        public var prompts: Int
        public var correct: Int
    }

    func prompt(_ a: Int, _ b: Int) -> String {
        template.replacingOccurrences(of: "{a}", with: "\(a)").replacingOccurrences(of: "{b}", with: "\(b)")
    }

    /// The answer's first token: the sum's first digit.
    static func answer(_ a: Int, _ b: Int) -> Int { Int(String(String(a + b).first ?? "0")) ?? 0 }

    /// Top neurons of layer `l` by spread (max - min) of their contributions over the ten digits.
    func topNeurons(_ d: Decomposition, layer l: Int) -> [Int] {
        let ff = d.targets[0].neurons[l].count
        let spread = (0..<ff).map { n -> Double in
            let v = d.targets.map { $0.neurons[l][n] }
            return (v.max() ?? 0) - (v.min() ?? 0)
        }
        return Array((0..<ff).sorted { spread[$0] > spread[$1] }.prefix(neurons))
    }

    /// `force`: replace the files an earlier run wrote in `dir` (see `writeFileSet`).
    public func run(_ ctx: StudyContext, output dir: String, force: Bool = false) throws -> Result {
        guard template.contains("{a}"), template.contains("{b}") else { throw PrismError("--template must contain {a} and {b}") }
        let digitIds = try (0...9).map { try ctx.singleToken("\($0)") }
        let targets = digitIds.enumerated().map { Target.token($1, label: "\($0)") }
        let labels = (0...9).map(String.init)
        let L = ctx.model.config.num_hidden_layers
        var out = try StudyOutput(directory: dir, force: force, inputs: [ctx.loaded.path], title: "Adding small digits: \(prompt(example.a, example.b))",
                                  subtitle: "logit prisms on \(ctx.loaded.path)")
        let right = Self.answer(example.a, example.b)
        let (ids, _, d, _) = try ctx.decompose(prompt(example.a, example.b), targets: targets)
        out.report.paragraph("Prompt `\(prompt(example.a, example.b))` (\(ctx.pieces(ids).map { "`\($0)`" }.joined(separator: " "))), candidates the ten digits; the right next token is `\(right)`. Frozen: \(Decomposition.frozen.joined(separator: "; ")).")

        // (1) Residual prism per digit, and the MLP layer that carries the answer.
        let residual = d.targets.map { Series(name: $0.target.label, values: $0.residualTerms.map(\.value)) }
        out.report.heading("Residual prism")
        try out.figure(Chart.lines(title: "Logit contribution per component, per digit", categories: ctx.componentLabels, series: residual,
                                   xLabel: "component", yLabel: "logit contribution"),
                       name: "residual", caption: "The right digit's line should separate where the answer is computed.",
                       csv: CSV.series(categoryHeader: "component", categories: ctx.componentLabels, series: residual))
        func separation(_ v: [Double]) -> Double { v[right] - v.reduce(0, +) / Double(v.count) }
        let l = try layer.map { l -> Int in
            guard l >= 0, l < L else { throw PrismError("--layer \(l) is out of range (0..<\(L))") }
            return l
        } ?? (0..<L).max { a, b in separation(d.targets.map { $0.mlp[a] }) < separation(d.targets.map { $0.mlp[b] }) } ?? 0
        out.report.table(headers: ["layer", "MLP term for \(right)", "mean over digits", "separation"],
                         rows: (0..<L).map { k in
                             let v = d.targets.map { $0.mlp[k] }
                             return ["m\(k)", f3(v[right]), f3(v.reduce(0, +) / 10), f3(separation(v))]
                         }, numericColumns: [1, 2, 3], caption: "MLP layers by how far they lift the right digit above the mean.")

        // (2) Neuron templates of that layer.
        let top = topNeurons(d, layer: l)
        let panels = top.map { n in BarPanel(title: "neuron \(n)", categories: labels, values: d.targets.map { $0.neurons[l][n] }, highlight: right) }
        out.report.heading("Neuron templates, layer \(l)")
        out.report.paragraph("The \(top.count) neurons of MLP layer \(l)\(layer == nil ? " (the layer that separates the right digit most)" : "") whose contributions spread most over the ten digits (chosen without looking at the right answer). Each panel: one neuron's contribution `gelu(gate_n) up_n (W_down[:, n] . u_digit)` to each digit's logit; the right digit is highlighted.")
        try out.figure(Chart.facetedBars(title: "Templates of the top neurons of layer \(l)", panels: panels, columns: 4,
                                         xLabel: "digit", yLabel: "logit contribution", highlightLabel: "right answer"),
                       name: "templates", caption: "Each neuron writes a pattern over the digits, not a single answer.",
                       csv: CSV.render(headers: ["neuron"] + labels, rows: top.map { n in ["\(n)"] + d.targets.map { f3($0.neurons[l][n]) } }))

        // (3) Their sum, stacked per digit.
        let stacks = top.map { n in Series(name: "n\(n)", values: d.targets.map { $0.neurons[l][n] }) }
        try out.figure(Chart.stackedBars(title: "Top neurons of layer \(l), stacked per output digit", categories: labels, stacks: stacks,
                                         xLabel: "output digit", yLabel: "logit contribution"),
                       name: "stacked", caption: "Positive parts stack up from zero, negative parts down; the marker is the sum.",
                       csv: CSV.series(categoryHeader: "digit", categories: labels, series: stacks))

        // Over every a+b: does the sum of that layer's top-neuron templates peak at the right digit?
        var peaks = 0, correct = 0, n = 0
        var rows: [[String]] = []
        let grid = digits.flatMap { a in digits.map { b in (a, b) } }
        try ctx.decomposeMany(grid.map { prompt($0.0, $0.1) }, targets: { _ in targets }) { i, _, pd, next in
            let (a, b) = grid[i]
            let want = Self.answer(a, b)
            if next == digitIds[want] { correct += 1 }
            let neuronsHere = topNeurons(pd, layer: l)
            let summed = (0...9).map { k in neuronsHere.reduce(0.0) { $0 + pd.targets[k].neurons[l][$1] } }
            let peak = summed.indices.max { summed[$0] < summed[$1] } ?? 0
            if peak == want { peaks += 1 }
            n += 1
            rows.append(["\(a)", "\(b)", "\(want)", ctx.pieces([next])[0], "\(peak)", summed.map(f3).joined(separator: " ")])
        }
        out.report.heading("All prompts")
        out.report.paragraph("Over the \(n) prompts `a+b=` (a, b in \(digits.lowerBound)..\(digits.upperBound)): the greedy next token is right for \(pct(correct, n)); the sum of layer \(l)'s top \(neurons) neuron templates (chosen per prompt by spread) peaks at the right digit for \(pct(peaks, n)).")
        out.report.table(headers: ["a", "b", "right", "model", "templates peak", "summed templates 0..9"], rows: rows)
        try out.write(CSV.render(headers: ["a", "b", "right", "model_next", "templates_peak", "summed_0_to_9"], rows: rows), "prompts.csv")
        try out.json(["example": prompt(example.a, example.b), "layer": l, "neurons": top, "peaks_right": peaks, "correct": correct, "prompts": n], "summary.json")
        try out.finish()
        return Result(layer: l, peaksRight: peaks, prompts: n, correct: correct)
    }
}

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
    /// Text put before every prompt (a few-shot prefix); nil: the model's default
    /// (`fewShotPrefix` on a real Gemma vocabulary, none on a small one: `StudyDefaults`).
    public var prefix: String?
    /// Three example sums before the question, for a real Gemma. On gemma-3-270m it lifts the
    /// one-digit sums the greedy answer gets right from 7/36 (no prefix) to 20/36; doubles
    /// ("1+1=2\n2+2=4\n3+3=6\n") give 8/36 (the README's studies).
    public static let fewShotPrefix = "2+3=5\n4+4=8\n1+6=7\n"
    /// The prefix a model gets without `prefix`: `fewShotPrefix` on a real Gemma vocabulary, none on a small one.
    public static func defaultPrefix(realVocabulary: Bool) -> String { realVocabulary ? fewShotPrefix : "" }
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
        /// The same counts for the one-digit sums (a + b <= 9) and the two-digit ones, whose
        /// first digit (the next token asked for) is always "1": pooled, they hide how the
        /// model does on each.
        public var oneDigit: Counts
        public var twoDigit: Counts
        /// The prefix every prompt started with, and whether it was the model's default.
        public var prefix: String
        public var prefixIsDefault: Bool
    }

    /// Prompts of one kind, how many the greedy answer gets right, and for how many the summed
    /// templates peak at the right digit.
    public struct Counts: Equatable {
        public var prompts: Int
        public var correct: Int
        public var peaksRight: Int
        /// Prompts whose summed templates peak at the model's own greedy digit, right or wrong
        /// (do the neurons carry what the model says, rather than the arithmetic's answer?).
        public var peaksModel: Int
    }

    /// Every number and label the addition report shows: `compute` finds them, `report` only
    /// formats and writes them.
    public struct Findings {
        public var modelPath: String
        /// The route the prompts ran on (`RunOptions.routeName`: "int8" or "exact").
        public var route: String
        /// What the decompositions held fixed (`Decomposition.frozen`).
        public var frozen: [String]
        /// The example prompt, its token pieces, and its right next digit.
        public var example: String
        public var exampleTokens: [String]
        public var right: Int
        /// Embed, a0, m0, ...; `residual[digit][component]` in that order (the example prompt).
        public var componentLabels: [String]
        public var residual: [[Double]]
        /// The logit lens of the right digit at every position of the example prompt.
        public var lens: StudyLens
        /// One row per MLP layer: its term for the right digit, the mean over the ten digits, and
        /// their difference (the separation the layer is chosen by).
        public var layers: [(right: Double, mean: Double, separation: Double)]
        /// Whether the layer was given (`layer`) rather than chosen by separation.
        public var layerGiven: Bool
        /// The studied layer's top neurons (by spread over the digits) and their templates:
        /// `templates[k][digit]` is neuron `neurons[k]`'s term for that digit's logit.
        public var neurons: [Int]
        public var templates: [[Double]]
        /// One row per prompt a+b= of the sweep.
        public var prompts: [PromptRow]
        /// The operands of the sweep and how many neurons are summed per prompt.
        public var digits: ClosedRange<Int>
        public var neuronCount: Int
        /// The counts `run` returns.
        public var result: Result
    }

    /// One prompt of the sweep: the right first digit, the model's greedy next token, and where
    /// the summed templates of the layer's top neurons (chosen per prompt) peak.
    public struct PromptRow {
        public var a: Int
        public var b: Int
        public var right: Int
        public var nextToken: String
        /// Whether `nextToken` is the right digit; the digit it is (nil: not a digit).
        public var correct: Bool
        public var modelDigit: Int?
        public var peak: Int
        /// The summed templates, digits 0...9.
        public var summed: [Double]
    }

    func prompt(_ a: Int, _ b: Int, prefix: String) -> String {
        prefix + template.replacingOccurrences(of: "{a}", with: "\(a)").replacingOccurrences(of: "{b}", with: "\(b)")
    }

    /// `rows` split into one-digit sums and two-digit sums.
    static func split(_ rows: [PromptRow]) -> (one: Counts, two: Counts) {
        func counts(_ rs: [PromptRow]) -> Counts {
            Counts(
                prompts: rs.count, correct: rs.filter(\.correct).count, peaksRight: rs.filter { $0.peak == $0.right }.count,
                peaksModel: rs.filter { $0.peak == $0.modelDigit }.count)
        }
        return (counts(rows.filter { $0.a + $0.b <= 9 }), counts(rows.filter { $0.a + $0.b > 9 }))
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

    /// `force`: replace the files an earlier run wrote in `dir` (see `writeFileSet`). The folder
    /// is checked before the work (`Outputs.checkSet`), then `compute`, then `report`.
    public func run(_ ctx: StudyContext, output dir: String, force: Bool = false) throws -> Result {
        try Outputs.checkSet(dir, force: force, inputs: [ctx.loaded.path])
        let findings = try compute(ctx)
        try report(findings, output: dir, force: force)
        return findings.result
    }

    /// Runs the study: the example prompt's prisms, the MLP layer that carries the answer and its
    /// top neurons, and the sweep over every a+b.
    /// - Throws: `PrismError` for a template without {a} and {b}, a digit that is not one token,
    ///   or a layer out of range.
    public func compute(_ ctx: StudyContext) throws -> Findings {
        guard template.contains("{a}"), template.contains("{b}") else { throw PrismError("--template must contain {a} and {b}") }
        let digitIds = try (0...9).map { try ctx.singleToken("\($0)") }
        let targets = digitIds.enumerated().map { Target.token($1, label: "\($0)") }
        let L = ctx.model.config.numHiddenLayers
        let right = Self.answer(example.a, example.b)
        let prefix = self.prefix ?? Self.defaultPrefix(realVocabulary: ctx.hasRealVocabulary)
        let (ids, source, d, _) = try ctx.decompose(prompt(example.a, example.b, prefix: prefix), targets: targets)
        // The example prompt was recorded whole: its lens needs no other forward pass.
        let lens = try StudyLens.read(ctx, source, tokenId: digitIds[right])

        // The MLP layer that lifts the right digit most above the mean, and its top neurons.
        func separation(_ v: [Double]) -> Double { v[right] - v.reduce(0, +) / Double(v.count) }
        let l =
            try layer.map { l -> Int in
                guard l >= 0, l < L else { throw PrismError("--layer \(l) is out of range (0..<\(L))") }
                return l
            } ?? (0..<L).max { a, b in separation(d.targets.map { $0.mlp[a] }) < separation(d.targets.map { $0.mlp[b] }) } ?? 0
        let layers = (0..<L).map { k in
            let v = d.targets.map { $0.mlp[k] }
            return (right: v[right], mean: v.reduce(0, +) / 10, separation: separation(v))
        }
        let top = topNeurons(d, layer: l)

        let rows = try sweep(ctx, layer: l, prefix: prefix, targets: targets, digitIds: digitIds)
        let (one, two) = Self.split(rows)
        let result = Result(
            layer: l, peaksRight: rows.filter { $0.peak == $0.right }.count, prompts: rows.count, correct: rows.filter(\.correct).count,
            oneDigit: one, twoDigit: two, prefix: prefix, prefixIsDefault: self.prefix == nil)
        return Findings(
            modelPath: ctx.loaded.path, route: ctx.routeName, frozen: Decomposition.frozen(ctx.loaded.model.config),
            example: prompt(example.a, example.b, prefix: prefix),
            exampleTokens: ctx.pieces(ids), right: right,
            componentLabels: ctx.componentLabels, residual: d.targets.map { $0.residualTerms.map(\.value) }, lens: lens,
            layers: layers, layerGiven: layer != nil, neurons: top,
            templates: top.map { n in d.targets.map { $0.neurons[l][n] } },
            prompts: rows, digits: digits, neuronCount: neurons, result: result)
    }

    /// Over every a+b (a, b in `digits`): is the greedy next token the right digit, and where do
    /// the summed templates of layer `l`'s top neurons (chosen per prompt, by spread) peak?
    func sweep(_ ctx: StudyContext, layer l: Int, prefix: String, targets: [Target], digitIds: [Int]) throws -> [PromptRow] {
        var rows: [PromptRow] = []
        let grid = digits.flatMap { a in digits.map { b in (a, b) } }
        try ctx.decomposeMany(grid.map { prompt($0.0, $0.1, prefix: prefix) }, targets: { _ in targets }) { i, _, pd, next in
            let (a, b) = grid[i]
            let want = Self.answer(a, b)
            let neuronsHere = topNeurons(pd, layer: l)
            let summed = (0...9).map { k in neuronsHere.reduce(0.0) { $0 + pd.targets[k].neurons[l][$1] } }
            let peak = summed.indices.max { summed[$0] < summed[$1] } ?? 0
            rows.append(
                PromptRow(
                    a: a, b: b, right: want, nextToken: ctx.pieces([next])[0], correct: next == digitIds[want], modelDigit: digitIds.firstIndex(of: next),
                    peak: peak, summed: summed))
        }
        return rows
    }

    /// The sweep's counts in words, one-digit and two-digit sums apart (a two-digit sum's first
    /// digit is always "1": pooled, those prompts would flatter the count).
    public static func headline(_ r: Result, layer: Int, neurons: Int) -> String {
        "the summed templates of layer \(layer)'s top \(neurons) neurons peak at the right digit for \(r.twoDigit.peaksRight)/\(r.twoDigit.prompts) two-digit sums (first digit always \"1\") and \(r.oneDigit.peaksRight)/\(r.oneDigit.prompts) one-digit sums; the greedy answer is right for \(r.twoDigit.correct)/\(r.twoDigit.prompts) and \(r.oneDigit.correct)/\(r.oneDigit.prompts); the summed templates peak at the model's own answer for \(r.twoDigit.peaksModel)/\(r.twoDigit.prompts) and \(r.oneDigit.peaksModel)/\(r.oneDigit.prompts)"
    }

    /// Writes the report of `f` into `dir`: index.html, each figure as SVG and CSV, prompts.csv
    /// and summary.json, as one set (see `StudyOutput`).
    /// - Throws: `PrismError` when `dir` may not be written, or an I/O error from the write.
    public func report(_ f: Findings, output dir: String, force: Bool = false) throws {
        let r = f.result, l = r.layer, right = f.right
        let labels = (0...9).map(String.init)
        var out = try StudyOutput(
            directory: dir, force: force, inputs: [f.modelPath], route: f.route, title: "Adding small digits: \(String(f.example.dropFirst(r.prefix.count)))",
            subtitle: "logit prisms on \(f.modelPath)")
        out.report.paragraph(
            "Prompt `\(StudyText.escape(f.example))` (\(f.exampleTokens.map { "`\(StudyText.escape($0))`" }.joined(separator: " "))), candidates the ten digits; the right next token is `\(right)`. Frozen: \(f.frozen.joined(separator: "; "))."
        )

        // (1) Residual prism per digit, and the MLP layer that carries the answer.
        let residual = zip(labels, f.residual).map { Series(name: $0, values: $1) }
        out.report.heading("Residual prism")
        try out.figure(
            Chart.lines(
                title: "Logit contribution per component, per digit", categories: f.componentLabels, series: residual,
                xLabel: "component", yLabel: "logit contribution"),
            name: "residual", caption: "The right digit's line should separate where the answer is computed.",
            csv: CSV.series(categoryHeader: "component", categories: f.componentLabels, series: residual))
        out.report.table(
            headers: ["layer", "MLP term for \(right)", "mean over digits", "separation"],
            rows: f.layers.enumerated().map { k, v in ["m\(k)", f3(v.right), f3(v.mean), f3(v.separation)] },
            numericColumns: [1, 2, 3], caption: "MLP layers, in layer order: how far each lifts the right digit above the mean.")
        try out.lensFigure(f.lens, tokens: f.exampleTokens)

        // (2) Neuron templates of that layer.
        let panels = zip(f.neurons, f.templates).map { n, t in BarPanel(title: "neuron \(n)", categories: labels, values: t, highlight: right) }
        out.report.heading("Neuron templates, layer \(l)")
        out.report.paragraph(
            "The \(f.neurons.count) neurons of MLP layer \(l)\(f.layerGiven ? "" : " (the layer that separates the right digit most)") whose contributions spread most over the ten digits (chosen without looking at the right answer). Each panel: one neuron's contribution `gelu(gate_n) up_n (W_down[:, n] . u_digit)` to each digit's logit; the right digit is highlighted."
        )
        try out.figure(
            Chart.facetedBars(
                title: "Templates of the top neurons of layer \(l)", panels: panels, columns: 4,
                xLabel: "digit", yLabel: "logit contribution", highlightLabel: "right answer"),
            name: "templates", caption: "Each neuron writes a pattern over the digits, not a single answer.",
            csv: CSV.render(headers: ["neuron"] + labels, rows: zip(f.neurons, f.templates).map { n, t in ["\(n)"] + t.map(f3) }))

        // (3) Their sum, stacked per digit.
        let stacks = zip(f.neurons, f.templates).map { n, t in Series(name: "n\(n)", values: t) }
        try out.figure(
            Chart.stackedBars(
                title: "Top neurons of layer \(l), stacked per output digit", categories: labels, stacks: stacks,
                xLabel: "output digit", yLabel: "logit contribution"),
            name: "stacked", caption: "Positive parts stack up from zero, negative parts down; the marker is the sum.",
            csv: CSV.series(categoryHeader: "digit", categories: labels, series: stacks))

        // Over every a+b=.
        let rows = f.prompts.map { p in
            ["\(p.a)", "\(p.b)", p.a + p.b > 9 ? "2" : "1", "\(p.right)", p.nextToken, "\(p.peak)", p.summed.map(f3).joined(separator: " ")]
        }
        out.report.heading("All prompts")
        out.report.paragraph(
            "Over the \(r.prompts) prompts `a+b=` (a, b in \(f.digits.lowerBound)..\(f.digits.upperBound)), \(Self.headline(r, layer: l, neurons: f.neuronCount)). \(r.prefix.isEmpty ? "No prefix\(r.prefixIsDefault ? " (the default for a small vocabulary)" : "")." : "Every prompt starts with the few-shot prefix `\(StudyText.escape(r.prefix))`\(r.prefixIsDefault ? " (the default for a real Gemma vocabulary; --prefix \"\" removes it)" : "").")"
        )
        try out.figure(
            Chart.heatmap(
                title: "Summed templates of layer \(l)'s top \(f.neuronCount) neurons, per prompt", rows: f.prompts.map { "\($0.a)+\($0.b)=" },
                columns: labels, values: f.prompts.map(\.summed), colorLabel: "summed logit contribution", xLabel: "output digit",
                yLabel: "prompt", marked: f.prompts.map { Optional($0.right) }, cell: Size(width: 30, height: 13)),
            name: "sweep",
            caption:
                "One row per prompt: the summed templates of the layer's top \(f.neuronCount) neurons (chosen per prompt) for each digit; the outlined cell is the right next digit. Hover a cell for its value; prompts.csv has the model's answer and the peak per prompt.",
            csv: CSV.render(
                headers: ["a", "b", "right", "model_next", "templates_peak"] + labels.map { "summed_\($0)" },
                rows: f.prompts.map { p in ["\(p.a)", "\(p.b)", "\(p.right)", p.nextToken, "\(p.peak)"] + p.summed.map(f3) }))
        try out.write(
            CSV.render(headers: ["a", "b", "sum_digits", "right", "model_next", "templates_peak", "summed_0_to_9"], rows: rows), "prompts.csv")
        func counts(_ c: Counts) -> [String: Int] { ["prompts": c.prompts, "correct": c.correct, "peaks_right": c.peaksRight, "peaks_model": c.peaksModel] }
        try out.json(
            [
                "example": f.example, "prefix": r.prefix, "layer": l, "neurons": f.neurons, "peaks_right": r.peaksRight, "correct": r.correct,
                "prompts": r.prompts, "one_digit_sums": counts(r.oneDigit), "two_digit_sums": counts(r.twoDigit),
            ], "summary.json")
        try out.finish()
    }
}

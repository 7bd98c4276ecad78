import Foundation
import PrismModel
import PrismPlots
import PrismSupport
import Prisms

/// The article's first study: "The capital city of France is" with nine candidate capitals.
/// Which components push Paris up; which attention heads read "France" and from where; what
/// those heads would write for other countries.
public struct CapitalsStudy {
    public struct Pair: Sendable {
        public var country: String
        public var capital: String
        public init(country: String, capital: String) {
            self.country = country
            self.capital = capital
        }
    }

    public var template = "The capital city of {country} is"
    public var country = "France"
    public var pairs: [Pair] = [
        ("France", "Paris"), ("Russia", "Moscow"), ("Vietnam", "Hanoi"), ("Ireland", "Dublin"), ("Netherlands", "Amsterdam"),
        ("Iran", "Tehran"), ("Korea", "Seoul"), ("England", "London"), ("Japan", "Tokyo"),
    ].map { Pair(country: $0.0, capital: $0.1) }
    /// Force the layer / head studied (default: the ones that separate the right answer most).
    public var layer: Int?
    public var head: Int?
    /// How many of the top heads are checked for reading the country token.
    public var topHeads = 3

    public init() {}

    public struct Result {
        public var layer: Int
        public var head: Int
        public var countryPosition: Int
        /// Countries whose own capital gets the largest value from the frozen top-head map.
        public var mapWins: Int
        public var mapCountries: Int
        /// (country, top head) pairs where the head's top-2 source positions include the country token.
        public var readsCountry: Int
        public var readsCountryChecked: Int
        /// Prompts whose greedy next token is the right capital.
        public var correct: Int
        public var prompts: Int
    }

    func prompt(_ country: String) -> String { template.replacingOccurrences(of: "{country}", with: country) }

    /// Position of the country's last token in the prompt.
    func countryPosition(_ ctx: StudyContext, _ country: String) throws -> Int {
        guard let r = template.range(of: "{country}") else { throw PrismError("--template must contain {country}") }
        let prefix = String(template[..<r.lowerBound]) + country
        return ctx.tokenizer.encode(prefix).count - 1
    }

    /// `force`: replace the files an earlier run wrote in `dir` (see `writeFileSet`).
    public func run(_ ctx: StudyContext, output dir: String, force: Bool = false) throws -> Result {
        guard template.contains("{country}") else { throw PrismError("--template must contain {country}") }
        guard pairs.contains(where: { $0.country == country }) else {
            throw PrismError("--country \(country) is not among the countries (\(pairs.map(\.country).joined(separator: ", ")))")
        }
        // Candidates must be single tokens; pairs whose capital is not are left out (and named).
        var pairs: [Pair] = [], candidateIds: [Int] = [], dropped: [String] = []
        for pair in self.pairs {
            if let id = try? ctx.singleToken(" " + pair.capital) {
                pairs.append(pair)
                candidateIds.append(id)
            } else {
                dropped.append(pair.capital)
            }
        }
        guard let correctIndex = pairs.firstIndex(where: { $0.country == country }) else {
            throw PrismError("the capital of \(country) is not one token in this model's vocabulary; the study needs single-token candidates")
        }
        guard pairs.count >= 2 else {
            throw PrismError("fewer than two candidate capitals are single tokens in this vocabulary (left out: \(dropped.joined(separator: ", ")))")
        }
        let targets = zip(pairs, candidateIds).map { Target.token($1, label: $0.capital) }
        let names = pairs.map(\.capital)
        var out = try StudyOutput(directory: dir, force: force, inputs: [ctx.loaded.path], title: "Capital cities: \(prompt(country))",
                                  subtitle: "logit prisms on \(ctx.loaded.path)")
        let (ids, source, d, _) = try ctx.decompose(prompt(country), targets: targets)
        let tokens = ctx.pieces(ids)
        let L = ctx.model.config.num_hidden_layers, H = ctx.model.heads
        if !dropped.isEmpty {
            out.report.paragraph("Left out (not one token in this vocabulary): \(dropped.joined(separator: ", ")).")
        }
        out.report.paragraph("Prompt `\(prompt(country))` (\(ids.count) tokens: \(tokens.map { "`\($0)`" }.joined(separator: " "))), candidates \(names.joined(separator: ", ")); the right answer is \(pairs[correctIndex].capital). Frozen: \(Decomposition.frozen.joined(separator: "; ")).")
        out.report.table(headers: ["candidate", "logit", "sum of terms", "error"],
                         rows: d.targets.map { [$0.target.label, f3($0.logit), f3($0.sum), String(format: "%.1e", $0.error)] },
                         numericColumns: [1, 2, 3], caption: "Each logit and the sum of its residual-prism terms.")

        // (1) Residual prism.
        let labels = ctx.componentLabels
        let residual = d.targets.map { Series(name: $0.target.label, values: $0.residualTerms.map(\.value)) }
        out.report.heading("Residual prism")
        try out.figure(Chart.lines(title: "Logit contribution per component", categories: labels, series: residual,
                                   xLabel: "component", yLabel: "logit contribution"),
                       name: "residual", caption: "Embedding, then each attention (a) and MLP (m) block's write, read by each candidate's frozen readout.",
                       csv: CSV.series(categoryHeader: "component", categories: labels, series: residual))
        let zoom = max(0, labels.count - 6)..<labels.count
        try out.figure(Chart.lines(title: "Last layers (zoom)", categories: labels, series: residual, xLabel: "component", yLabel: "logit contribution", window: zoom),
                       name: "residual_zoom", caption: "The same, last three layers.",
                       csv: CSV.series(categoryHeader: "component", categories: Array(labels[zoom]), series: residual.map { Series(name: $0.name, values: Array($0.values[zoom])) }))

        // (2) Attention prism of the layer that separates the right answer most.
        func separation(_ values: [Double]) -> Double { values[correctIndex] - values.reduce(0, +) / Double(values.count) }
        let chosenLayer = try layer.map { l -> Int in
            guard l >= 0, l < L else { throw PrismError("--layer \(l) is out of range (0..<\(L))") }
            return l
        } ?? (0..<L).max { a, b in separation(d.targets.map { $0.attn[a] }) < separation(d.targets.map { $0.attn[b] }) } ?? 0
        let panels = (0..<H).map { h in
            Panel(title: "head \(h)", categories: tokens, series: d.targets.map { Series(name: $0.target.label, values: $0.headSources[chosenLayer][h]) })
        }
        out.report.heading("Attention prism, layer \(chosenLayer)")
        out.report.paragraph("Layer \(chosenLayer) is the attention layer whose write separates \(pairs[correctIndex].capital) from the mean of the candidates most\(layer == nil ? "" : " (chosen with --layer)"). Each panel: one head's term per source token, per candidate.")
        var headRows: [[String]] = []
        for h in 0..<H { for (j, t) in tokens.enumerated() { headRows.append(["\(h)", "\(j)", t] + d.targets.map { f3($0.headSources[chosenLayer][h][j]) }) } }
        try out.figure(Chart.smallMultiples(title: "Layer \(chosenLayer): per head, per source token", panels: panels, columns: min(4, H),
                                            xLabel: "source token", yLabel: "logit contribution"),
                       name: "heads_layer\(chosenLayer)", caption: "Head-source terms A[h,p,j] u . W_O^h v_j.",
                       csv: CSV.render(headers: ["head", "source", "token"] + names, rows: headRows))

        // (3) Chained prism through the top head at the country token.
        let chosenHead = try head.map { h -> Int in
            guard h >= 0, h < H else { throw PrismError("--head \(h) is out of range (0..<\(H))") }
            return h
        } ?? (0..<H).max { a, b in separation(d.targets.map { $0.heads[chosenLayer][a] }) < separation(d.targets.map { $0.heads[chosenLayer][b] }) } ?? 0
        let jc = try countryPosition(ctx, country)
        let paths = try ctx.prism.headPath(source, position: ids.count - 1, layer: chosenLayer, head: chosenHead, source: jc, targets: targets)
        let pieceLabels = ["Embed"] + (0..<chosenLayer).flatMap { ["a\($0)", "m\($0)"] }
        let pathSeries = paths.map { Series(name: $0.target.label, values: $0.pieces) }
        out.report.heading("Chained prism: what head \(chosenLayer).\(chosenHead) reads at `\(tokens[jc])`")
        out.report.paragraph("The stream at the country token (position \(jc)) split into its residual pieces, each read through head \(chosenLayer).\(chosenHead)'s frozen map (source 1/rms frozen too). The pieces add up to the head-source term: largest error \(String(format: "%.1e", paths.map { abs($0.error) }.max() ?? 0)).")
        try out.figure(Chart.lines(title: "Head \(chosenLayer).\(chosenHead) reading `\(tokens[jc])`, by piece of its input", categories: pieceLabels, series: pathSeries,
                                   xLabel: "piece of the source stream", yLabel: "logit contribution"),
                       name: "chained", caption: "Embedding and each earlier block's write at the country token, through the head.",
                       csv: CSV.series(categoryHeader: "piece", categories: pieceLabels, series: pathSeries))

        // (4) The same frozen map applied to other countries' embeddings.
        let maps = try ctx.prism.headMaps(source, position: ids.count - 1, layer: chosenLayer, head: chosenHead, source: jc, targets: targets)
        var barPanels: [BarPanel] = [], mapRows: [[String]] = [], wins = 0, mapped = 0, skipped: [String] = []
        for (k, pair) in pairs.enumerated() {
            guard let cid = try? ctx.singleToken(" " + pair.country) else { skipped.append(pair.country); continue }
            let values = try ctx.prism.applyToEmbeddings(maps, tokens: [cid]).map { $0[0] }
            let best = values.indices.max { values[$0] < values[$1] } ?? 0
            mapped += 1
            if best == k { wins += 1 }
            barPanels.append(BarPanel(title: pair.country, categories: names, values: values, highlight: k))
            mapRows.append([pair.country] + values.map(f3))
        }
        out.report.heading("The head's map applied to other countries")
        out.report.paragraph("Head \(chosenLayer).\(chosenHead)'s frozen map applied to `sqrt(d) * E[country]` for each country, as if the prompt had named it. The country's own capital gets the largest value for \(pct(wins, mapped)).\(skipped.isEmpty ? "" : " Skipped (not one token): \(skipped.joined(separator: ", ")).")")
        try out.figure(Chart.facetedBars(title: "Head \(chosenLayer).\(chosenHead) applied to each country's embedding", panels: barPanels, columns: 3,
                                         xLabel: "candidate", yLabel: "logit contribution", highlightLabel: "the country's capital"),
                       name: "country_map", caption: "One panel per country; the highlighted bar is its capital.",
                       csv: CSV.render(headers: ["country"] + names, rows: mapRows))

        // Over every country: is the answer right, and do the top heads read the country token?
        var reads = 0, checked = 0, correct = 0
        var rows: [[String]] = []
        try ctx.decomposeMany(pairs.map { prompt($0.country) }, targets: { [targets[$0]] }) { k, _, d, next in
            let pair = pairs[k]
            if next == candidateIds[k] { correct += 1 }
            let t = d.targets[0]
            let jk = try countryPosition(ctx, pair.country)
            let top = Ranking.heads(t, top: topHeads)
            var hits: [String] = []
            for e in top {
                let sources = t.headSources[e.layer][e.head]
                let best2 = sources.indices.sorted { abs(sources[$0]) > abs(sources[$1]) }.prefix(2)
                checked += 1
                if best2.contains(jk) { reads += 1; hits.append("\(e.layer).\(e.head)") }
            }
            rows.append([pair.country, pair.capital, ctx.pieces([next])[0], top.map { "\($0.layer).\($0.head)" }.joined(separator: " "), hits.joined(separator: " ")])
        }
        out.report.heading("All countries")
        out.report.paragraph("Greedy next token right for \(pct(correct, pairs.count)) prompts. Among each prompt's top \(topHeads) heads (by |term| for the right capital), the country token is one of the head's two largest source positions for \(pct(reads, checked)).")
        out.report.table(headers: ["country", "capital", "model's next token", "top heads", "top heads reading the country"], rows: rows)
        try out.write(CSV.render(headers: ["country", "capital", "next_token", "top_heads", "reading_country"], rows: rows), "countries.csv")
        let result = Result(layer: chosenLayer, head: chosenHead, countryPosition: jc, mapWins: wins, mapCountries: mapped,
                            readsCountry: reads, readsCountryChecked: checked, correct: correct, prompts: pairs.count)
        try out.json([
            "prompt": prompt(country), "ids": ids, "tokens": tokens, "candidates": names, "layer": chosenLayer, "head": chosenHead,
            "country_position": jc, "map_wins": wins, "map_countries": mapped, "reads_country": reads, "reads_country_checked": checked,
            "correct": correct, "prompts": pairs.count,
            "logits": d.targets.map(\.logit), "errors": d.targets.map(\.error),
        ], "summary.json")
        try out.finish()
        return result
    }
}

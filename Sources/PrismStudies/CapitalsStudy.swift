import Foundation
import PrismModel
import PrismPlots
import PrismSupport
import Prisms

/// The article's first study: "The capital city of France is" with candidate capitals (the
/// article's nine, or twenty well-known ones on a real Gemma; see `defaultPairs`). Which
/// components push Paris up; which attention heads read "France" and from where; what those
/// heads would write for other countries.
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
    /// Text put before every prompt (a few-shot prefix); nil: the model's default
    /// (`fewShotPrefix` on a real Gemma vocabulary, none on a small one: `StudyDefaults`).
    public var prefix: String?
    public var country = "France"
    /// The countries and their capitals (the candidates); nil: the model's default (`defaultPairs`).
    public var pairs: [Pair]?

    /// The article's nine pairs (gemma-2b; also the shipped toy's, every one a single token there).
    public static let articlePairs: [Pair] = [
        ("France", "Paris"), ("Russia", "Moscow"), ("Vietnam", "Hanoi"), ("Ireland", "Dublin"), ("Netherlands", "Amsterdam"),
        ("Iran", "Tehran"), ("Korea", "Seoul"), ("England", "London"), ("Japan", "Tokyo"),
    ].map { Pair(country: $0.0, capital: $0.1) }
    /// The article's nine and eleven more well-known ones, for a real Gemma: a larger sample for
    /// the head's country map. Austria and Portugal are left out (they are the few-shot prefix's
    /// examples); India's capital is two tokens (" New", " Delhi") in Gemma's vocabulary, so the
    /// study leaves it out and says so.
    public static let worldPairs: [Pair] =
        articlePairs
        + [
            ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("China", "Beijing"), ("Egypt", "Cairo"),
            ("Greece", "Athens"), ("Poland", "Warsaw"), ("Canada", "Ottawa"), ("Australia", "Canberra"), ("Turkey", "Ankara"),
            ("India", "New Delhi"),
        ].map { Pair(country: $0.0, capital: $0.1) }
    /// Two example lines before the question: gemma-3-270m then answers " Paris" (p 0.96) where
    /// zero-shot it prefers " the".
    public static let fewShotPrefix = "The capital city of Austria is Vienna.\nThe capital city of Portugal is Lisbon.\n"

    /// The pairs a model gets without `pairs`: `worldPairs` on a real Gemma vocabulary,
    /// `articlePairs` on a small one.
    public static func defaultPairs(realVocabulary: Bool) -> [Pair] { realVocabulary ? worldPairs : articlePairs }
    /// The prefix a model gets without `prefix`: `fewShotPrefix` on a real Gemma vocabulary, none on a small one.
    public static func defaultPrefix(realVocabulary: Bool) -> String { realVocabulary ? fewShotPrefix : "" }
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
        /// Capitals left out (not one token with a leading space in this vocabulary), and
        /// countries whose embedding the head's map could not be applied to (not one token).
        public var dropped: [String]
        public var skippedCountries: [String]
        /// The prefix every prompt started with, and whether it was the model's default.
        public var prefix: String
        public var prefixIsDefault: Bool
    }

    /// Every number and label the capitals report shows: `compute` finds them, `report` only
    /// formats and writes them.
    public struct Findings {
        public var modelPath: String
        /// The route the prompts ran on (`RunOptions.routeName`: "int8" or "exact").
        public var route: String
        /// What the decompositions held fixed (`Decomposition.frozen`).
        public var frozen: [String]
        /// The main prompt, prefix included.
        public var prompt: String
        /// The main prompt's token ids and their pieces ("▁" shown as a space).
        public var ids: [Int]
        public var tokens: [String]
        /// The kept candidates (single-token capitals, in pair order) and the capitals left out.
        public var candidates: [String]
        public var dropped: [String]
        public var rightAnswer: String
        /// Per candidate: its logit, the sum of its residual-prism terms, and sum - logit.
        public var logits: [Double]
        public var sums: [Double]
        public var errors: [Double]
        /// Embed, a0, m0, ...; `residual[candidate][component]` in that order.
        public var componentLabels: [String]
        public var residual: [[Double]]
        /// Whether the layer was given (`layer`) rather than chosen by separation.
        public var layerGiven: Bool
        /// Heads per layer.
        public var heads: Int
        /// `headSources[candidate][head][source]` at the studied layer.
        public var headSources: [[[Double]]]
        /// The studied head's attention pattern on the main prompt, `pattern[query][key]`
        /// (probabilities; NaN for the causally masked keys after the query).
        public var pattern: [[Double]]
        /// Embed, a0, m0, ... below the studied layer; `pathPieces[candidate][piece]`.
        public var pathLabels: [String]
        public var pathPieces: [[Double]]
        /// Largest |sum of the pieces - head-source term| over the candidates.
        public var pathError: Double
        /// The logit lens of the right capital at every position of the main prompt.
        public var lens: StudyLens
        /// The head's frozen map applied to each country's embedding (countries that are one token).
        public var countryMaps: [CountryMap]
        public var skippedCountries: [String]
        /// One row per kept pair, over the whole sweep.
        public var countries: [CountryRow]
        /// How many top heads were checked per prompt.
        public var topHeads: Int
        /// The counts `run` returns.
        public var result: Result
    }

    /// The studied head's frozen map applied to `sqrt(d) * E[country]`: one value per candidate.
    public struct CountryMap {
        public var country: String
        public var values: [Double]
        /// Index of the country's own capital among the candidates.
        public var capitalIndex: Int
    }

    /// One prompt of the sweep: the model's greedy next token, its top heads for the right
    /// capital, and those of them whose two largest source positions include the country token.
    public struct CountryRow {
        public var country: String
        public var capital: String
        public var nextToken: String
        public var topHeads: [(layer: Int, head: Int)]
        public var reading: [(layer: Int, head: Int)]
    }

    func prompt(_ country: String, prefix: String) -> String { prefix + template.replacingOccurrences(of: "{country}", with: country) }

    /// Position of the country's last token in the prompt whose ids are `ids`.
    /// - Throws: `PrismError` when the text up to the country does not tokenize to a prefix of
    ///   the prompt's tokens (the country's last token then has no position of its own).
    func countryPosition(_ ctx: StudyContext, _ country: String, prefix: String, ids: [Int]) throws -> Int {
        guard let r = template.range(of: "{country}") else { throw PrismError("--template must contain {country}") }
        let head = ctx.tokenizer.encode(prefix + String(template[..<r.lowerBound]) + country)
        guard head.count <= ids.count, Array(ids.prefix(head.count)) == head else {
            throw PrismError("'\(country)' merges with the text after it in this vocabulary; put a space or punctuation after {country} in --template")
        }
        return head.count - 1
    }

    /// The pairs to keep, in order: those whose capital, with a leading space, is one token
    /// (`tokenId` gives its id or nil), with those ids; the capitals left out, in order.
    public static func singleTokenCandidates(_ pairs: [Pair], tokenId: (String) -> Int?) -> (pairs: [Pair], ids: [Int], dropped: [String]) {
        var kept: [Pair] = [], ids: [Int] = [], dropped: [String] = []
        for pair in pairs {
            if let id = tokenId(" " + pair.capital) {
                kept.append(pair)
                ids.append(id)
            } else {
                dropped.append(pair.capital)
            }
        }
        return (kept, ids, dropped)
    }

    /// `force`: replace the files an earlier run wrote in `dir` (see `writeFileSet`). The folder
    /// is checked before the work (`Outputs.checkSet`), then `compute`, then `report`.
    public func run(_ ctx: StudyContext, output dir: String, force: Bool = false) throws -> Result {
        try Outputs.checkSet(dir, force: force, inputs: [ctx.loaded.path])
        let findings = try compute(ctx)
        try report(findings, output: dir, force: force)
        return findings.result
    }

    /// The kept pairs, their capitals' token ids, and the capitals left out (not one token).
    func candidates(_ ctx: StudyContext, pairs: [Pair]) throws -> (pairs: [Pair], ids: [Int], dropped: [String]) {
        guard template.contains("{country}") else { throw PrismError("--template must contain {country}") }
        guard pairs.contains(where: { $0.country == country }) else {
            throw PrismError("--country \(country) is not among the countries (\(pairs.map(\.country).joined(separator: ", ")))")
        }
        return Self.singleTokenCandidates(pairs, tokenId: ctx.tokenId)
    }

    /// Runs the study: the main prompt's prisms, the studied head's chained prism and maps, and
    /// the sweep over every kept country.
    /// - Throws: `PrismError` for a template without {country}, a country not among the pairs,
    ///   too few single-token capitals, or a layer / head out of range.
    public func compute(_ ctx: StudyContext) throws -> Findings {
        let prefix = self.prefix ?? Self.defaultPrefix(realVocabulary: ctx.hasRealVocabulary)
        let (pairs, candidateIds, dropped) = try candidates(ctx, pairs: self.pairs ?? Self.defaultPairs(realVocabulary: ctx.hasRealVocabulary))
        guard let correctIndex = pairs.firstIndex(where: { $0.country == country }) else {
            throw PrismError("the capital of \(country) is not one token in this model's vocabulary; the study needs single-token candidates")
        }
        guard pairs.count >= 2 else {
            if dropped.isEmpty {
                throw PrismError("the study compares capitals: give at least two --pairs (e.g. France=Paris,Germany=Berlin)")
            }
            throw PrismError("fewer than two candidate capitals are single tokens in this vocabulary (left out: \(dropped.joined(separator: ", ")))")
        }
        let targets = zip(pairs, candidateIds).map { Target.token($1, label: $0.capital) }
        let (ids, source, d, _) = try ctx.decompose(prompt(country, prefix: prefix), targets: targets)
        let L = ctx.model.config.numHiddenLayers, H = ctx.model.heads

        // The attention layer, and its head, that separate the right answer most.
        func separation(_ values: [Double]) -> Double { values[correctIndex] - values.reduce(0, +) / Double(values.count) }
        let chosenLayer =
            try layer.map { l -> Int in
                guard l >= 0, l < L else { throw PrismError("--layer \(l) is out of range (0..<\(L))") }
                return l
            } ?? (0..<L).max { a, b in separation(d.targets.map { $0.attn[a] }) < separation(d.targets.map { $0.attn[b] }) } ?? 0
        let chosenHead =
            try head.map { h -> Int in
                guard h >= 0, h < H else { throw PrismError("--head \(h) is out of range (0..<\(H))") }
                return h
            } ?? (0..<H).max { a, b in separation(d.targets.map { $0.heads[chosenLayer][a] }) < separation(d.targets.map { $0.heads[chosenLayer][b] }) } ?? 0

        let pattern = try Self.headPattern(source, layer: chosenLayer, head: chosenHead)
        // The main prompt was recorded whole: its lens needs no other forward pass.
        let lens = try StudyLens.read(ctx, source, tokenId: candidateIds[correctIndex])

        // Chained prism through that head at the country token, and its frozen map on other countries.
        let jc = try countryPosition(ctx, country, prefix: prefix, ids: ids)
        let paths = try ctx.prism.headPath(source, position: ids.count - 1, layer: chosenLayer, head: chosenHead, source: jc, targets: targets)
        let maps = try ctx.prism.headMaps(source, position: ids.count - 1, layer: chosenLayer, head: chosenHead, source: jc, targets: targets)
        var countryMaps: [CountryMap] = [], skipped: [String] = []
        for (k, pair) in pairs.enumerated() {
            guard let cid = ctx.tokenId(" " + pair.country) else { skipped.append(pair.country); continue }
            countryMaps.append(CountryMap(country: pair.country, values: try ctx.prism.applyToEmbeddings(maps, tokens: [cid]).map { $0[0] }, capitalIndex: k))
        }
        let wins = countryMaps.filter { m in (m.values.indices.max { m.values[$0] < m.values[$1] } ?? 0) == m.capitalIndex }.count

        let (rows, reads, checked, correct) = try sweep(ctx, pairs: pairs, prefix: prefix, targets: targets, candidateIds: candidateIds)
        let result = Result(
            layer: chosenLayer, head: chosenHead, countryPosition: jc, mapWins: wins, mapCountries: countryMaps.count,
            readsCountry: reads, readsCountryChecked: checked, correct: correct, prompts: pairs.count,
            dropped: dropped, skippedCountries: skipped, prefix: prefix, prefixIsDefault: self.prefix == nil)
        return Findings(
            modelPath: ctx.loaded.path, route: ctx.routeName, frozen: Decomposition.frozen(ctx.loaded.model.config), prompt: prompt(country, prefix: prefix),
            ids: ids,
            tokens: ctx.pieces(ids),
            candidates: pairs.map(\.capital), dropped: dropped, rightAnswer: pairs[correctIndex].capital,
            logits: d.targets.map(\.logit), sums: d.targets.map(\.sum), errors: d.targets.map(\.error),
            componentLabels: ctx.componentLabels, residual: d.targets.map { $0.residualTerms.map(\.value) },
            layerGiven: layer != nil, heads: H, headSources: d.targets.map { $0.headSources[chosenLayer] }, pattern: pattern,
            pathLabels: ["Embed"] + (0..<chosenLayer).flatMap { ["a\($0)", "m\($0)"] }, pathPieces: paths.map(\.pieces),
            pathError: paths.map { abs($0.error) }.max() ?? 0, lens: lens,
            countryMaps: countryMaps, skippedCountries: skipped, countries: rows, topHeads: topHeads, result: result)
    }

    /// Head `head` of `layer`'s attention pattern in `source` (recorded as `[H, T, S]`), as
    /// `[query][key]` probabilities with NaN for the masked keys after each query.
    /// - Throws: `PrismError` when the pattern was not recorded or has another shape.
    static func headPattern(_ source: ActivationSource, layer: Int, head: Int) throws -> [[Double]] {
        let t = try source.activation(ActivationName.pattern(layer))
        guard t.shape.count == 3, head >= 0, head < t.shape[0], t.values.count == t.shape.reduce(1, *) else {
            throw PrismError("activation \(ActivationName.pattern(layer)) has shape \(t.shape), not [heads, queries, keys] with head \(head)")
        }
        let (T, S) = (t.shape[1], t.shape[2])
        return (0..<T).map { q in (0..<S).map { k in k > q ? .nan : Double(t.values[(head * T + q) * S + k]) } }
    }

    /// Over every kept country: is the greedy answer right, and do the top heads (by |term| for
    /// the right capital) read the country token (one of their two largest source positions)?
    func sweep(
        _ ctx: StudyContext, pairs: [Pair], prefix: String, targets: [Target], candidateIds: [Int]
    ) throws
        -> (rows: [CountryRow], reads: Int, checked: Int, correct: Int)
    {
        var reads = 0, checked = 0, correct = 0
        var rows: [CountryRow] = []
        try ctx.decomposeMany(pairs.map { prompt($0.country, prefix: prefix) }, targets: { [targets[$0]] }) { k, ids, d, next in
            let pair = pairs[k]
            if next == candidateIds[k] { correct += 1 }
            let t = d.targets[0]
            let jk = try countryPosition(ctx, pair.country, prefix: prefix, ids: ids)
            let top = Ranking.heads(t, top: topHeads)
            var hits: [(layer: Int, head: Int)] = []
            for e in top {
                let sources = t.headSources[e.layer][e.head]
                let best2 = sources.indices.sorted { abs(sources[$0]) > abs(sources[$1]) }.prefix(2)
                checked += 1
                if best2.contains(jk) { reads += 1; hits.append((e.layer, e.head)) }
            }
            rows.append(
                CountryRow(
                    country: pair.country, capital: pair.capital, nextToken: ctx.pieces([next])[0],
                    topHeads: top.map { ($0.layer, $0.head) }, reading: hits))
        }
        return (rows, reads, checked, correct)
    }

    /// The studied head's attention pattern on the main prompt as a query x key heatmap, the
    /// country token outlined in the last query's row.
    func patternFigure(_ out: inout StudyOutput, _ f: Findings) throws {
        let r = f.result, name = "L\(r.layer)H\(r.head)"
        let labels = f.tokens.enumerated().map { "\($0) \(StudyText.escape($1))" }
        let last = f.pattern.count - 1
        out.report.heading("Attention pattern of \(name) (head \(r.layer).\(r.head))")
        out.report.paragraph(
            "Where head \(name) looks from each position of the prompt: row = query token, column = key token, colour = attention probability (each row sums to 1; grey: keys after the query, masked). The outlined cell is the country token `\(StudyText.escape(f.tokens[r.countryPosition]))` in the last position's row, the row the logit is read from."
        )
        var rows: [[String]] = []
        for (q, row) in f.pattern.enumerated() {
            for (k, v) in row.enumerated() where v.isFinite { rows.append(["\(q)", f.tokens[q], "\(k)", f.tokens[k], String(format: "%.6f", locale: nil, v)]) }
        }
        try out.figure(
            Chart.heatmap(
                title: "Attention pattern of \(name), query x key", rows: labels, columns: labels, values: f.pattern,
                colorLabel: "attention probability", xLabel: "key token", yLabel: "query token", limit: 1,
                annotate: f.pattern.count <= 16, scale: .sequential,
                marked: (0...max(last, 0)).map { $0 == last ? r.countryPosition : nil }),
            name: "pattern_\(name)", caption: "Hover a cell for its probability.",
            csv: CSV.render(headers: ["query", "query_token", "key", "key_token", "probability"], rows: rows))
    }

    /// Writes the report of `f` into `dir`: index.html, each figure as SVG and CSV, countries.csv
    /// and summary.json, as one set (see `StudyOutput`).
    /// - Throws: `PrismError` when `dir` may not be written, or an I/O error from the write.
    public func report(_ f: Findings, output dir: String, force: Bool = false) throws {
        let r = f.result, names = f.candidates
        var out = try StudyOutput(
            directory: dir, force: force, inputs: [f.modelPath], route: f.route, title: "Capital cities: \(String(f.prompt.dropFirst(r.prefix.count)))",
            subtitle: "logit prisms on \(f.modelPath)")
        if !f.dropped.isEmpty {
            out.report.paragraph("Left out (not one token in this vocabulary): \(f.dropped.joined(separator: ", ")).")
        }
        out.report.paragraph(
            r.prefix.isEmpty
                ? "No prefix: the article's zero-shot prompt\(r.prefixIsDefault ? " (the default for a small vocabulary)" : "")."
                : "Every prompt starts with the few-shot prefix `\(StudyText.escape(r.prefix))`\(r.prefixIsDefault ? " (the default for a real Gemma vocabulary; --prefix \"\" gives the article's zero-shot prompt)" : "")."
        )
        out.report.paragraph(
            "Prompt `\(StudyText.escape(f.prompt))` (\(f.ids.count) tokens: \(f.tokens.map { "`\(StudyText.escape($0))`" }.joined(separator: " "))), candidates \(names.joined(separator: ", ")); the right answer is \(f.rightAnswer). Frozen: \(f.frozen.joined(separator: "; "))."
        )
        out.report.table(
            headers: ["candidate", "logit", "sum of terms", "error"],
            rows: names.indices.map { [names[$0], f3(f.logits[$0]), f3(f.sums[$0]), String(format: "%.1e", f.errors[$0])] },
            numericColumns: [1, 2, 3], caption: "Each logit and the sum of its residual-prism terms.")

        // (1) Residual prism.
        let labels = f.componentLabels
        let residual = zip(names, f.residual).map { Series(name: $0, values: $1) }
        out.report.heading("Residual prism")
        try out.figure(
            Chart.lines(
                title: "Logit contribution per component", categories: labels, series: residual,
                xLabel: "component", yLabel: "logit contribution"),
            name: "residual", caption: "Embedding, then each attention (a) and MLP (m) block's write, read by each candidate's frozen readout.",
            csv: CSV.series(categoryHeader: "component", categories: labels, series: residual))
        let zoom = max(0, labels.count - 6)..<labels.count
        try out.figure(
            Chart.lines(title: "Last layers (zoom)", categories: labels, series: residual, xLabel: "component", yLabel: "logit contribution", window: zoom),
            name: "residual_zoom", caption: "The same, last three layers.",
            csv: CSV.series(
                categoryHeader: "component", categories: Array(labels[zoom]), series: residual.map { Series(name: $0.name, values: Array($0.values[zoom])) }))

        // (2) Attention prism of the studied layer.
        let panels = (0..<f.heads).map { h in
            Panel(title: "head \(h)", categories: f.tokens.map(StudyText.escape), series: zip(names, f.headSources).map { Series(name: $0, values: $1[h]) })
        }
        out.report.heading("Attention prism, layer \(r.layer)")
        out.report.paragraph(
            "Layer \(r.layer) is the attention layer whose write separates \(f.rightAnswer) from the mean of the candidates most\(f.layerGiven ? " (chosen with --layer)" : ""). Each panel: one head's term per source token, per candidate."
        )
        var headRows: [[String]] = []
        for h in 0..<f.heads { for (j, t) in f.tokens.enumerated() { headRows.append(["\(h)", "\(j)", t] + f.headSources.map { f3($0[h][j]) }) } }
        try out.figure(
            Chart.smallMultiples(
                title: "Layer \(r.layer): per head, per source token", panels: panels, columns: min(4, f.heads),
                xLabel: "source token", yLabel: "logit contribution"),
            name: "heads_layer\(r.layer)", caption: "Head-source terms A[h,p,j] u . W_O^h v_j.",
            csv: CSV.render(headers: ["head", "source", "token"] + names, rows: headRows))

        try out.lensFigure(f.lens, tokens: f.tokens)

        // (3) Chained prism through the studied head at the country token.
        let jc = r.countryPosition, head = "\(r.layer).\(r.head)"
        try patternFigure(&out, f)
        let pathSeries = zip(names, f.pathPieces).map { Series(name: $0, values: $1) }
        out.report.heading("Chained prism: what head \(head) reads at `\(f.tokens[jc])`")
        out.report.paragraph(
            "The stream at the country token (position \(jc)) split into its residual pieces, each read through head \(head)'s frozen map (source 1/rms frozen too). The pieces add up to the head-source term: largest error \(String(format: "%.1e", f.pathError))."
        )
        try out.figure(
            Chart.lines(
                title: "Head \(head) reading \"\(f.tokens[jc])\", by piece of its input", categories: f.pathLabels, series: pathSeries,
                xLabel: "piece of the source stream", yLabel: "logit contribution"),
            name: "chained", caption: "Embedding and each earlier block's write at the country token, through the head.",
            csv: CSV.series(categoryHeader: "piece", categories: f.pathLabels, series: pathSeries))

        // (4) The same frozen map applied to other countries' embeddings.
        let barPanels = f.countryMaps.map { BarPanel(title: $0.country, categories: names, values: $0.values, highlight: $0.capitalIndex) }
        out.report.heading("The head's map applied to other countries")
        out.report.paragraph(
            "Head \(head)'s frozen map applied to `sqrt(d) * E[country]` for each country, as if the prompt had named it. The country's own capital gets the largest value for \(pct(r.mapWins, r.mapCountries)).\(f.skippedCountries.isEmpty ? "" : " Skipped (not one token): \(f.skippedCountries.joined(separator: ", ")).")"
        )
        try out.figure(
            Chart.facetedBars(
                title: "Head \(head) applied to each country's embedding", panels: barPanels, columns: 3,
                xLabel: "candidate", yLabel: "logit contribution", highlightLabel: "the country's capital"),
            name: "country_map", caption: "One panel per country; the highlighted bar is its capital.",
            csv: CSV.render(headers: ["country"] + names, rows: f.countryMaps.map { [$0.country] + $0.values.map(f3) }))

        // Over every country.
        func heads(_ hs: [(layer: Int, head: Int)]) -> String { hs.map { "\($0.layer).\($0.head)" }.joined(separator: " ") }
        let rows = f.countries.map { [$0.country, $0.capital, $0.nextToken, heads($0.topHeads), heads($0.reading)] }
        out.report.heading("All countries")
        out.report.paragraph(
            "Greedy next token right for \(pct(r.correct, r.prompts)) prompts. Among each prompt's top \(f.topHeads) heads (by |term| for the right capital), the country token is one of the head's two largest source positions for \(pct(r.readsCountry, r.readsCountryChecked))."
        )
        out.report.table(headers: ["country", "capital", "model's next token", "top heads", "top heads reading the country"], rows: rows)
        try out.write(CSV.render(headers: ["country", "capital", "next_token", "top_heads", "reading_country"], rows: rows), "countries.csv")
        try out.json(
            [
                "prompt": f.prompt, "prefix": r.prefix, "left_out": r.dropped, "ids": f.ids, "tokens": f.tokens, "candidates": names, "layer": r.layer,
                "head": r.head,
                "country_position": jc, "map_wins": r.mapWins, "map_countries": r.mapCountries, "reads_country": r.readsCountry,
                "reads_country_checked": r.readsCountryChecked, "correct": r.correct, "prompts": r.prompts,
                "logits": f.logits, "errors": f.errors,
            ], "summary.json")
        try out.finish()
    }
}

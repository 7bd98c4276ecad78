import Foundation
import PrismFormats
import PrismSession
import PrismSupport
import Prisms

/// `prism decompose`'s table: per target, the logit and its closure, the residual prism, and the
/// largest heads, head-source pairs and neurons.
public enum DecompositionTable {
    /// Writes the table of `d` to `out`.
    /// - Parameters:
    ///   - pieces: the prompt's tokens as the tokenizer has them (nil: `#id`).
    ///   - top: how many of the largest terms to list per kind.
    ///   - ranks: the position's logits, to state the model's top-1 and each target's rank (nil
    ///     for a decomposition read from a store, which keeps no logits).
    ///   - top1Token: the model's top-1 token as text (nil: `#id`).
    ///   - route: how the activations were computed (`OutputStamp.routeText`), written under the position.
    public static func write<Out: TextOutputStream>(
        _ d: Decomposition, pieces: [String]?, top: Int, ranks: LogitRanks? = nil, top1Token: String? = nil, route: String? = nil,
        to out: inout Out
    ) {
        func tok(_ j: Int) -> String { pieces.map { Display.quote($0[j]) } ?? "#\(d.ids[j])" }
        Swift.print("position \(d.position) \(tok(d.position)) of \(d.ids.count) tokens", to: &out)
        if let route { Swift.print("route: \(route)", to: &out) }
        if let ranks, let best = ranks.top1 {
            Swift.print(
                "model's top-1 here: \(top1Token.map(Display.quote) ?? "#\(best.id)") (id \(best.id), logit \(String(format: "%.4f", best.logit)))", to: &out)
        }
        Swift.print("frozen: " + d.frozen.joined(separator: "; "), to: &out)
        for t in d.targets {
            Swift.print("", to: &out)
            let rankText =
                ranks.map { r in
                    "; rank " + t.target.ids.map { id in r.rank(id).map(String.init) ?? "-" }.joined(separator: " / ") + " of \(r.logits.count)"
                } ?? ""
            Swift.print(
                "target \(t.target.label): logit \(fmt(t.logit)) = sum \(fmt(t.sum)) (error \(String(format: "%.2e", t.error)); finer terms close to \(String(format: "%.2e", t.finerClosure))\(rankText))",
                to: &out)
            if let sc = t.softcap {
                let g = sc.factors.map { String(format: "%.6f", $0) }.joined(separator: " / ")
                Swift.print(
                    sc.shown == .capped
                        ? "  soft-capped logit c tanh(z/c) with c = \(fmt(sc.cap)): each token's terms times its frozen g = \(g) (pre-cap logit \(fmt(sc.preCapLogit)))"
                        : "  pre-soft-cap logit z (the model outputs c tanh(z/c) = \(fmt(sc.cappedLogit)) with c = \(fmt(sc.cap)))", to: &out)
            }
            let nan = t.nanTerms
            if nan.residual + nan.heads + nan.headSources + nan.neurons > 0 {
                Swift.print(
                    "  NaN terms (not ranked): \(nan.residual) residual, \(nan.heads) heads, \(nan.headSources) head x source, \(nan.neurons) neurons", to: &out
                )
            }
            Swift.print("  residual prism:", to: &out)
            for (name, v) in t.residualTerms { Swift.print("    \(pad(name, 18)) \(fmt(v))", to: &out) }
            Swift.print("  top heads:", to: &out)
            for e in Ranking.heads(t, top: top) { Swift.print("    \(pad(ComponentName.head(e.layer, e.head), 18)) \(fmt(e.value))", to: &out) }
            Swift.print("  top head x source:", to: &out)
            for e in Ranking.headSources(t, top: top) {
                Swift.print("    \(pad(ComponentName.head(e.layer, e.head), 18)) \(fmt(e.value))  from \(e.source) \(tok(e.source))", to: &out)
            }
            Swift.print("  top neurons:", to: &out)
            for e in Ranking.neurons(t, top: top) { Swift.print("    \(pad(ComponentName.neuron(e.layer, e.neuron), 18)) \(fmt(e.value))", to: &out) }
        }
    }

    /// The table as one string.
    public static func string(
        _ d: Decomposition, pieces: [String]?, top: Int, ranks: LogitRanks? = nil, top1Token: String? = nil, route: String? = nil
    )
        -> String
    {
        var s = ""
        write(d, pieces: pieces, top: top, ranks: ranks, top1Token: top1Token, route: route, to: &s)
        return s
    }

    /// A term as the tables write it: sign, 10 characters, 4 decimals.
    public static func fmt(_ v: Double) -> String { String(format: "%+10.4f", v) }
    /// `s` padded with spaces to `n` characters (never cut).
    public static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}

/// `prism decompose --npy DIR` and `--csv DIR`: each a set of files, with targets.json.
public enum DecompositionFiles {
    /// A file of a set: its name in the directory and its bytes.
    public typealias File = (name: String, bytes: [UInt8])

    /// What the files say besides the terms: the route and the tokens' texts.
    public struct Context {
        public var route: String
        /// Every prompt and target id's text (`▁` as a space, no quotes; `#id` without a tokenizer).
        public var text: [Int: String]

        public init(route: String, text: [Int: String]) {
            self.route = route
            self.text = text
        }

        /// The route of `session` (or "stored") and the text of every id `d` shows.
        /// - Throws: `PrismError` for a tokenizer that does not parse.
        public init(session: PrismSession, d: Decomposition, stored: Bool) throws {
            route = OutputStamp.route(session, stored: stored)
            var text: [Int: String] = [:]
            for id in d.ids + d.targets.flatMap(\.target.ids) where text[id] == nil { text[id] = try TokenText.of(id, session) }
            self.text = text
        }

        public func token(_ id: Int) -> String { text[id] ?? "#\(id)" }
    }

    /// targets.json of both sets: the targets in command-line order, each with its index (the
    /// first axis of the arrays, `target_index` of the CSVs), ids, coefficients, tokens' texts
    /// and label (the text, or "A - B" for a difference).
    /// - Throws: what `JSONOut.string` throws.
    public static func targetsJSON(_ d: Decomposition, _ c: Context, extra: [String: Any]) throws -> [UInt8] {
        var o: [String: Any] = [
            "prism_version": PrismVersion.string, "route": c.route, "position": d.position, "frozen": d.frozen,
            "ids": d.ids, "tokens": d.ids.map(c.token),
            "targets": d.targets.enumerated().map { k, t in
                var e: [String: Any] = [
                    "index": k, "label": TokenText.label(t.target, c.token), "ids": t.target.ids,
                    "coefficients": t.target.terms.map { Double($0.coef) }, "tokens": t.target.ids.map(c.token),
                ]
                if t.target.terms.count == 1 { e["id"] = t.target.ids[0] }
                return e
            },
        ]
        for (k, v) in extra { o[k] = v }
        return Array((try JSONOut.string(o) + "\n").utf8)
    }

    /// terms.npy [K, 1 + 2L] (embed, blocks.0.attn, blocks.0.mlp, ...), heads.npy [K, L, H],
    /// head_sources.npy [K, L, H, P], neurons.npy [K, L, ff], logits.npy [K], ids.npy [P];
    /// K in targets.json's order (none for a decomposition without targets).
    /// - Throws: what `JSONOut.string` throws.
    public static func npyFiles(_ d: Decomposition, _ c: Context) throws -> [File] {
        let K = d.targets.count
        guard let first = d.targets.first else { return [] }
        let L = first.attn.count, H = first.heads.first?.count ?? 0, P = d.position + 1, ff = first.neurons.first?.count ?? 0
        let meta = try targetsJSON(
            d, c,
            extra: [
                "terms": first.residualTerms.map(\.name),
                "arrays": [
                    "terms.npy": [K, 1 + 2 * L], "heads.npy": [K, L, H], "head_sources.npy": [K, L, H, P], "neurons.npy": [K, L, ff],
                    "logits.npy": [K], "ids.npy": [d.ids.count],
                ],
            ])
        return [
            ("terms.npy", NPY.encode(shape: [K, 1 + 2 * L], float64: d.targets.flatMap { $0.residualTerms.map(\.value) })),
            ("heads.npy", NPY.encode(shape: [K, L, H], float64: d.targets.flatMap { $0.heads.flatMap { $0 } })),
            ("head_sources.npy", NPY.encode(shape: [K, L, H, P], float64: d.targets.flatMap { $0.headSources.flatMap { $0.flatMap { $0 } } })),
            ("neurons.npy", NPY.encode(shape: [K, L, ff], float64: d.targets.flatMap { $0.neurons.flatMap { $0 } })),
            ("logits.npy", NPY.encode(shape: [K], float64: d.targets.map(\.logit))),
            ("ids.npy", NPY.encode(shape: [d.ids.count], int64: d.ids)),
            ("targets.json", meta),
        ]
    }

    /// Tidy CSVs, one observation a row, the target by `target_index` (targets.json's order),
    /// `target_id` (empty for a difference) and `target_label`:
    /// terms.csv (component, kind, layer, value: embed and every block's write; grouped by
    /// target they add up to totals.csv's sum), heads.csv (layer, head), head_sources.csv
    /// (layer, head, source, source_id, source_text), neurons.csv (layer, neuron), totals.csv
    /// (target_ids, target_coefficients, logit, sum, error, finer_closure and, on a soft-capped
    /// model, which logit is shown and both), targets.json.
    /// - Throws: what `JSONOut.string` throws.
    public static func csvFiles(_ d: Decomposition, _ c: Context) throws -> [File] {
        var terms = CSVText.row(["target_index", "target_id", "target_label", "component", "kind", "layer", "value"])
        var heads = CSVText.row(["target_index", "target_id", "target_label", "layer", "head", "value"])
        var sources = CSVText.row(["target_index", "target_id", "target_label", "layer", "head", "source", "source_id", "source_text", "value"])
        var neurons = CSVText.row(["target_index", "target_id", "target_label", "layer", "neuron", "value"])
        var totals = CSVText.row([
            "target_index", "target_id", "target_label", "target_ids", "target_coefficients", "logit", "sum", "error", "finer_closure",
            "softcap_shown", "pre_softcap_logit", "capped_logit",
        ])
        let num = CSVText.number
        for (k, t) in d.targets.enumerated() {
            let lead = [String(k), t.target.terms.count == 1 ? String(t.target.ids[0]) : "", TokenText.label(t.target, c.token)]
            terms += CSVText.row(lead + ["embed", "embed", "", num(t.embed)])
            for l in t.attn.indices {
                terms += CSVText.row(lead + ["blocks.\(l).attn", "attn", String(l), num(t.attn[l])])
                terms += CSVText.row(lead + ["blocks.\(l).mlp", "mlp", String(l), num(t.mlp[l])])
            }
            for (l, hs) in t.heads.enumerated() { for (h, v) in hs.enumerated() { heads += CSVText.row(lead + [String(l), String(h), num(v)]) } }
            for (l, hs) in t.headSources.enumerated() {
                for (h, ss) in hs.enumerated() {
                    for (j, v) in ss.enumerated() {
                        sources += CSVText.row(lead + [String(l), String(h), String(j), String(d.ids[j]), c.token(d.ids[j]), num(v)])
                    }
                }
            }
            for (l, ns) in t.neurons.enumerated() { for (n, v) in ns.enumerated() { neurons += CSVText.row(lead + [String(l), String(n), num(v)]) } }
            totals += CSVText.row(
                lead + [
                    t.target.ids.map(String.init).joined(separator: " "), t.target.terms.map { CSVText.number(Double($0.coef)) }.joined(separator: " "),
                    num(t.logit), num(t.sum), num(t.error), num(t.finerClosure),
                    t.softcap?.shown.rawValue ?? "", t.softcap.map { num($0.preCapLogit) } ?? "", t.softcap.map { num($0.cappedLogit) } ?? "",
                ])
        }
        let meta = try targetsJSON(d, c, extra: [:])
        return [
            ("terms.csv", Array(terms.utf8)), ("heads.csv", Array(heads.utf8)),
            ("head_sources.csv", Array(sources.utf8)), ("neurons.csv", Array(neurons.utf8)),
            ("totals.csv", Array(totals.utf8)), ("targets.json", meta),
        ]
    }

    /// `npyFiles` written into `dir` (nothing for a decomposition without targets).
    /// - Throws: as `npyFiles` and `writeSet`.
    public static func writeNPY(_ d: Decomposition, _ c: Context, dir: String, force: Bool, inputs: [String]) throws {
        let files = try npyFiles(d, c)
        if !files.isEmpty { try writeSet(dir, force: force, inputs: inputs, files) }
    }

    /// `csvFiles` written into `dir`.
    /// - Throws: as `csvFiles` and `writeSet`.
    public static func writeCSV(_ d: Decomposition, _ c: Context, dir: String, force: Bool, inputs: [String]) throws {
        try writeSet(dir, force: force, inputs: inputs, try csvFiles(d, c))
    }

    /// Writes all of an output's files, or none of them, swapped in whole (`writeFileSet`); its
    /// note (what was replaced) goes to standard error.
    /// - Throws: `PrismError` as `writeFileSet`: a directory holding other files, an input among
    ///   the outputs, a write that failed.
    public static func writeSet(_ dir: String, force: Bool, inputs: [String], _ files: [File]) throws {
        if let note = try writeFileSet(dir, files.map { ($0.name, Data($0.bytes)) }, force: force, inputs: inputs) {
            var err = StandardError()
            Swift.print("note: \(note)", to: &err)
        }
    }
}

/// Guards against a silently wrong question (the top-1 and ranks are `DecompositionJSON.addRanks`):
/// a warning when a text target has a much better-ranked twin with (or without) a leading space.
public enum TargetRanking {
    /// The one-line warning for `text` (a `--target-token`) when the same text with or without its
    /// leading space is one token that the model ranks higher by a logit margin of 2 or more.
    /// - Throws: `PrismError` when `text` is not one token (or the tokenizer does not parse).
    public static func twinWarning(_ text: String, session: PrismSession, ranks: LogitRanks) throws -> String? {
        let id = try session.singleToken(text)
        let twin = text.hasPrefix(" ") ? String(text.dropFirst()) : " " + text
        guard !twin.isEmpty, !twin.hasPrefix("#") else { return nil }
        let twinId: Int
        do { twinId = try session.singleToken(twin) } catch is PrismError { return nil }  // not one token: no twin
        guard let r = ranks.rank(id), let tr = ranks.rank(twinId), let l = ranks.logit(id), let tl = ranks.logit(twinId),
            tr < r, tl - l >= 2
        else { return nil }
        return "warning: target \(Display.quote(text)) (id \(id)) ranks \(r) here (logit \(String(format: "%.2f", l))); "
            + "\(Display.quote(twin)) (id \(twinId)) ranks \(tr) (logit \(String(format: "%.2f", tl))): did you mean --target-token \(Display.quote(twin))?"
    }
}

import Foundation
import PrismFormats
import PrismSession
import PrismSupport
import Prisms

enum DecompositionTable {
    /// `ranks`: the position's logits, to state the model's top-1 and each target's rank (nil
    /// for a decomposition read from a store, which keeps no logits).
    static func print(_ d: Decomposition, pieces: [String]?, top: Int, ranks: LogitRanks? = nil, top1Token: String? = nil) {
        func tok(_ j: Int) -> String { pieces.map { Display.quote($0[j]) } ?? "#\(d.ids[j])" }
        Swift.print("position \(d.position) \(tok(d.position)) of \(d.ids.count) tokens")
        if let ranks, let best = ranks.top1 {
            Swift.print("model's top-1 here: \(top1Token ?? "#\(best.id)") (id \(best.id), logit \(String(format: "%.4f", best.logit)))")
        }
        Swift.print("frozen: " + d.frozen.joined(separator: "; "))
        for t in d.targets {
            Swift.print("")
            let rankText =
                ranks.map { r in
                    "; rank " + t.target.ids.map { id in r.rank(id).map(String.init) ?? "-" }.joined(separator: " / ") + " of \(r.logits.count)"
                } ?? ""
            Swift.print(
                "target \(t.target.label): logit \(fmt(t.logit)) = sum \(fmt(t.sum)) (error \(String(format: "%.2e", t.error)); finer terms close to \(String(format: "%.2e", t.finerClosure))\(rankText))"
            )
            if let sc = t.softcap {
                let g = sc.factors.map { String(format: "%.6f", $0) }.joined(separator: " / ")
                Swift.print(
                    sc.shown == .capped
                        ? "  soft-capped logit c tanh(z/c) with c = \(fmt(sc.cap)): each token's terms times its frozen g = \(g) (pre-cap logit \(fmt(sc.preCapLogit)))"
                        : "  pre-soft-cap logit z (the model outputs c tanh(z/c) = \(fmt(sc.cappedLogit)) with c = \(fmt(sc.cap)))")
            }
            let nan = t.nanTerms
            if nan.residual + nan.heads + nan.headSources + nan.neurons > 0 {
                Swift.print("  NaN terms (not ranked): \(nan.residual) residual, \(nan.heads) heads, \(nan.headSources) head x source, \(nan.neurons) neurons")
            }
            Swift.print("  residual prism:")
            for (name, v) in t.residualTerms { Swift.print("    \(pad(name, 18)) \(fmt(v))") }
            Swift.print("  top heads:")
            for e in Ranking.heads(t, top: top) { Swift.print("    \(pad("blocks.\(e.layer).head\(e.head)", 18)) \(fmt(e.value))") }
            Swift.print("  top head x source:")
            for e in Ranking.headSources(t, top: top) {
                Swift.print("    \(pad("blocks.\(e.layer).head\(e.head)", 18)) \(fmt(e.value))  from \(e.source) \(tok(e.source))")
            }
            Swift.print("  top neurons:")
            for e in Ranking.neurons(t, top: top) { Swift.print("    \(pad("blocks.\(e.layer).mlp.\(e.neuron)", 18)) \(fmt(e.value))") }
        }
    }

    static func fmt(_ v: Double) -> String { String(format: "%+10.4f", v) }
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}

enum DecompositionFiles {
    /// terms.npy [K, 1 + 2L] (embed, blocks.0.attn, blocks.0.mlp, ...), heads.npy [K, L, H],
    /// head_sources.npy [K, L, H, P], neurons.npy [K, L, ff], logits.npy [K], ids.npy [P].
    static func writeNPY(_ d: Decomposition, dir: String, force: Bool, inputs: [String]) throws {
        let K = d.targets.count
        guard let first = d.targets.first else { return }
        let L = first.attn.count, H = first.heads.first?.count ?? 0, P = d.position + 1, ff = first.neurons.first?.count ?? 0
        let labels = try JSONOut.string([
            "targets": d.targets.map(\.target.label), "position": d.position,
            "terms": first.residualTerms.map(\.name), "frozen": d.frozen,
        ])
        try writeSet(
            dir, force: force, inputs: inputs,
            [
                ("terms.npy", NPY.encode(shape: [K, 1 + 2 * L], float64: d.targets.flatMap { $0.residualTerms.map(\.value) })),
                ("heads.npy", NPY.encode(shape: [K, L, H], float64: d.targets.flatMap { $0.heads.flatMap { $0 } })),
                ("head_sources.npy", NPY.encode(shape: [K, L, H, P], float64: d.targets.flatMap { $0.headSources.flatMap { $0.flatMap { $0 } } })),
                ("neurons.npy", NPY.encode(shape: [K, L, ff], float64: d.targets.flatMap { $0.neurons.flatMap { $0 } })),
                ("logits.npy", NPY.encode(shape: [K], float64: d.targets.map(\.logit))),
                ("ids.npy", NPY.encode(shape: [d.ids.count], int64: d.ids)),
                ("targets.json", Array((labels + "\n").utf8)),
            ])
    }

    /// Long-format CSVs: residual.csv, heads.csv, head_sources.csv, neurons.csv.
    static func writeCSV(_ d: Decomposition, dir: String, force: Bool, inputs: [String]) throws {
        var residual = "target,term,value\n", heads = "target,layer,head,value\n"
        var sources = "target,layer,head,source,value\n", neurons = "target,layer,neuron,value\n"
        for t in d.targets {
            let label = csvField(t.target.label)
            for (name, v) in t.residualTerms { residual += "\(label),\(name),\(v)\n" }
            residual += "\(label),logit,\(t.logit)\n\(label),error,\(t.error)\n"
            for (l, hs) in t.heads.enumerated() { for (h, v) in hs.enumerated() { heads += "\(label),\(l),\(h),\(v)\n" } }
            for (l, hs) in t.headSources.enumerated() {
                for (h, ss) in hs.enumerated() { for (j, v) in ss.enumerated() { sources += "\(label),\(l),\(h),\(j),\(v)\n" } }
            }
            for (l, ns) in t.neurons.enumerated() { for (n, v) in ns.enumerated() { neurons += "\(label),\(l),\(n),\(v)\n" } }
        }
        try writeSet(
            dir, force: force, inputs: inputs,
            [
                ("residual.csv", Array(residual.utf8)), ("heads.csv", Array(heads.utf8)),
                ("head_sources.csv", Array(sources.utf8)), ("neurons.csv", Array(neurons.utf8)),
            ])
    }

    static func csvField(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// All of an output's files, or none of them, swapped in whole (`writeFileSet`).
    static func writeSet(_ dir: String, force: Bool, inputs: [String], _ files: [(name: String, bytes: [UInt8])]) throws {
        if let note = try writeFileSet(dir, files.map { ($0.name, Data($0.bytes)) }, force: force, inputs: inputs) {
            FileHandle.standardError.write(Data("note: \(note)\n".utf8))
        }
    }
}

/// Guards against a silently wrong question: the model's top-1 and each target's rank in the JSON,
/// and a warning when a text target has a much better-ranked twin with (or without) a leading space.
enum TargetRanking {
    /// Adds `model_top1` and each target's `rank` (a difference: `ranks` of its two tokens).
    static func annotate(_ obj: inout [String: Any], ranks: LogitRanks, top1Token: String?) {
        if let best = ranks.top1 {
            obj["model_top1"] = ["id": best.id, "token": top1Token ?? "#\(best.id)", "logit": Double(best.logit)] as [String: Any]
        }
        guard var targets = obj["targets"] as? [[String: Any]] else { return }
        for k in targets.indices {
            if let id = targets[k]["id"] as? Int {
                targets[k]["rank"] = ranks.rank(id) ?? NSNull()
            } else if let ids = targets[k]["ids"] as? [Int] {
                targets[k]["ranks"] = ids.map { ranks.rank($0).map { $0 as Any } ?? NSNull() }
            }
        }
        obj["targets"] = targets
    }

    /// The one-line warning for `text` (a `--target-token`) when the same text with or without its
    /// leading space is one token that the model ranks higher by a logit margin of 2 or more.
    static func twinWarning(_ text: String, session: PrismSession, ranks: LogitRanks) throws -> String? {
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

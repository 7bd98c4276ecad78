import Foundation
import PrismSupport

/// The JSON schema of `prism decompose --json` and of `prism batch` records (README, "Output schema").
public enum DecompositionJSON {
    public enum Detail: String, CaseIterable, Sendable {
        /// Residual terms, and the top-K heads, head-sources and neurons by |contribution|.
        case summary
        /// Every term: heads [layer][head], head_sources [layer][head][source], neurons [layer][neuron].
        case full
    }

    /// Bytes held while a decomposition holding `heldBytes` (see `Decomposition.heldBytes`) is
    /// written out at `detail`: the decomposition itself, plus for `.full` its terms as JSON
    /// text and the objects they are serialized from (`bytesPerFullTerm` a term); a summary's
    /// rankings sort one layer's indices at a time (1 MiB covers it).
    public static func outputBytes(heldBytes: Int, detail: Detail) -> Int {
        heldBytes + (detail == .full ? heldBytes / 8 * bytesPerFullTerm : 1 << 20)
    }

    /// Bytes per term while a full decomposition is serialized (Foundation boxes every number, then
    /// the text is copied): `prism decompose --detail full --json` with 200 targets (1.75 M terms)
    /// peaked 126 bytes a term above `--detail summary`; the JSON text itself is 22.
    public static let bytesPerFullTerm = 128

    public static func object(_ d: Decomposition, pieces: [String]?, detail: Detail, top: Int) -> [String: Any] {
        var o: [String: Any] = [
            "ids": d.ids,
            "position": d.position,
            "frozen": d.frozen,
            "targets": d.targets.map { target($0, detail: detail, top: top) },
        ]
        if let pieces { o["tokens"] = pieces }
        return o
    }

    /// Adds `model_top1` and each target's `rank` (a difference: `ranks` of its two tokens), from
    /// the logits at the decomposed position: what every decomposition output states so that a
    /// question about a token the model does not predict is visible.
    public static func addRanks(_ obj: inout [String: Any], ranks: LogitRanks, top1Token: String?) {
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

    /// Adds `prism_version` and `route` (`RunOptions.routeName`, or "stored" for activations read
    /// from a store) to an output object.
    public static func stamp(_ obj: inout [String: Any], route: String) {
        obj["prism_version"] = PrismVersion.string
        obj["route"] = route
    }

    static func target(_ t: TargetDecomposition, detail: Detail, top: Int) -> [String: Any] {
        var terms: [String: Double] = [:]
        for (name, v) in t.residualTerms { terms[name] = v }
        var o: [String: Any] = [
            "label": t.target.label,
            "logit": t.logit, "sum": t.sum, "error": t.error,
            "finer_closure": t.finerClosure,
            "terms": terms,
        ]
        if t.target.terms.count == 1 {
            o["id"] = t.target.terms[0].id
        } else {
            o["ids"] = t.target.ids
            o["coefficients"] = t.target.terms.map { Double($0.coef) }
        }
        o["token"] = t.target.label
        if let sc = t.softcap {
            // Soft-capped models (Gemma 2): which logit "logit" and the terms are, and both values.
            o["softcap"] =
                [
                    "cap": sc.cap, "shown": sc.shown.rawValue, "pre_softcap_logit": sc.preCapLogit, "capped_logit": sc.cappedLogit,
                    "factors": sc.factors,
                ] as [String: Any]
        }
        // Only when there are NaN terms, so ordinary output is unchanged.
        let nan = t.nanTerms
        if nan.residual + nan.heads + nan.headSources + nan.neurons > 0 {
            o["nan_terms"] = ["residual": nan.residual, "heads": nan.heads, "head_sources": nan.headSources, "neurons": nan.neurons]
        }
        switch detail {
        case .full:
            o["heads"] = t.heads
            o["head_sources"] = t.headSources
            o["neurons"] = t.neurons
        case .summary:
            o["top_heads"] = Ranking.heads(t, top: top).map { ["layer": $0.layer, "head": $0.head, "value": $0.value] }
            o["top_head_sources"] = Ranking.headSources(t, top: top).map { ["layer": $0.layer, "head": $0.head, "source": $0.source, "value": $0.value] }
            o["top_neurons"] = Ranking.neurons(t, top: top).map { ["layer": $0.layer, "neuron": $0.neuron, "value": $0.value] }
        }
        return o
    }
}

/// The largest contributions by absolute value, signed. NaN terms are not ranked (a NaN has no
/// size, and sorting with it is no order at all); `TargetDecomposition.nanTerms` counts them.
public enum Ranking {
    public static func heads(_ t: TargetDecomposition, top: Int) -> [(layer: Int, head: Int, value: Double)] {
        var all: [(Int, Int, Double)] = []
        for (l, hs) in t.heads.enumerated() { for (h, v) in hs.enumerated() where !v.isNaN { all.append((l, h, v)) } }
        return Array(all.sorted { abs($0.2) > abs($1.2) }.prefix(top)).map { (layer: $0.0, head: $0.1, value: $0.2) }
    }

    public static func headSources(_ t: TargetDecomposition, top: Int) -> [(layer: Int, head: Int, source: Int, value: Double)] {
        var all: [(Int, Int, Int, Double)] = []
        for (l, hs) in t.headSources.enumerated() {
            for (h, ss) in hs.enumerated() { for (j, v) in ss.enumerated() where !v.isNaN { all.append((l, h, j, v)) } }
        }
        return Array(all.sorted { abs($0.3) > abs($1.3) }.prefix(top)).map { (layer: $0.0, head: $0.1, source: $0.2, value: $0.3) }
    }

    public static func neurons(_ t: TargetDecomposition, top: Int) -> [(layer: Int, neuron: Int, value: Double)] {
        // Partial selection per layer first, so 18 x 16384 neurons are never sorted whole (a
        // stable sort of each layer was a tenth of a one-shot decompose of gemma-2b).
        var all: [(Int, Int, Double)] = []
        for (l, ns) in t.neurons.enumerated() {
            for n in largest(ns, top: top) { all.append((l, n, ns[n])) }
        }
        return Array(all.sorted { abs($0.2) > abs($1.2) }.prefix(top)).map { (layer: $0.0, neuron: $0.1, value: $0.2) }
    }

    /// The indices of the `top` largest |values| (NaN skipped), largest first and, among equal
    /// sizes, the lower index first: the prefix a stable sort by decreasing |value| gives, in
    /// O(count x top) with `top` small rather than a sort of the whole array.
    static func largest(_ values: [Double], top: Int) -> [Int] {
        guard top > 0 else { return [] }
        var kept: [Int] = []  // indices, by decreasing |value|, ties by increasing index
        kept.reserveCapacity(top + 1)
        for (i, v) in values.enumerated() where !v.isNaN {
            let size = abs(v)
            // Full and no larger than the smallest kept: an equal size came later, so it loses.
            if kept.count == top, let last = kept.last, size <= abs(values[last]) { continue }
            var at = kept.count
            while at > 0, abs(values[kept[at - 1]]) < size { at -= 1 }
            kept.insert(i, at: at)
            if kept.count > top { kept.removeLast() }
        }
        return kept
    }
}

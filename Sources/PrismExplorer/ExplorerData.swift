import Foundation
import PrismKernels
import PrismModel
import PrismSupport
import Prisms

/// Everything one explorer page shows, gathered by the caller (the CLI) and turned into the one
/// JSON object the page embeds (`ExplorerData.object`).
public struct ExplorerInputs {
    /// The model file or directory as given, and its config.
    public var modelPath: String
    public var config: GemmaConfig
    /// How products with int8 weights treated activations in the run.
    public var route: ActivationRoute
    /// The decomposition of the prompt (ids `0...position`).
    public var decomposition: Decomposition
    /// The object `prism decompose --json` prints for it (with `model_top1` and ranks when known).
    public var decomposeJSON: [String: Any]
    /// The decomposed position's full-vocabulary logits (nil when read from a store).
    public var ranks: LogitRanks?
    /// The lens at every position `0...position`.
    public var lens: LensGrid
    /// Per layer, the attention pattern `[H, T, T]` of the prompt (row-major, T = position + 1).
    public var patterns: [[Float]]
    /// Token id -> SentencePiece piece, for every id shown (prompt, targets, lens top tokens);
    /// an id missing here is shown as `#id`.
    public var pieces: [Int: String]
    /// Neurons kept per layer and target (the largest |term|).
    public var neuronsPerLayer: Int = 12
    /// Activations read from a store: its route's id and words (as `decompose` prints them),
    /// in place of `route`'s.
    public var storedRoute: (id: String, text: String)?

    public init(
        modelPath: String, config: GemmaConfig, route: ActivationRoute, decomposition: Decomposition, decomposeJSON: [String: Any],
        ranks: LogitRanks?, lens: LensGrid, patterns: [[Float]], pieces: [Int: String]
    ) {
        self.modelPath = modelPath
        self.config = config
        self.route = route
        self.decomposition = decomposition
        self.decomposeJSON = decomposeJSON
        self.ranks = ranks
        self.lens = lens
        self.patterns = patterns
        self.pieces = pieces
    }
}

/// The explorer's embedded JSON object. Its big tensors are cut down before they are written:
/// neurons to the largest `neuronsPerLayer` per layer and target, attention patterns to bytes
/// (probability x 255, rounded; only the causal lower triangle), every other value to 5
/// significant digits. Sizes on gemma-2b at 128 tokens stay near a megabyte or two.
public enum ExplorerData {
    /// The object, keys:
    /// - `prism_version`, `model` {path, name, generation, layers, heads, kv_heads, d_model, d_mlp, vocab},
    ///   `route` {id: "int8"|"exact", text}, `position`, `prompt_length` (the whole prompt's
    ///   tokens), `tokens` [{id, text}] for `0...position` (what the page shows),
    ///   `model_top1` {id, text, logit} or null, `frozen` [String];
    /// - `targets` [{label, ids, coefficients, logit, sum, error, finer_closure, ranks, residual
    ///   [{name, layer, kind, value}], heads [L][H], head_sources [L][H][P], neurons [L][{n, v}]}];
    /// - `patterns` {encoding, layers, heads, tokens, data [L][H] base64};
    /// - `lens` {points, positions, top_ids [P][points][k], top_own, top_frozen (same shape),
    ///   target_own [K][P][points], target_frozen, target_ranks [K][P][points][tokens]};
    /// - `vocab` {id: text} for every id the page names; `decompose`: the `decompose --json` object.
    public static func object(_ x: ExplorerInputs) -> [String: Any] {
        let d = x.decomposition, c = x.config
        var vocab: [String: String] = [:]
        func text(_ id: Int) -> String {
            let t = x.pieces[id].map(displayText) ?? "#\(id)"
            vocab[String(id)] = t
            return t
        }
        let tokens = d.ids.prefix(d.position + 1).map { ["id": $0, "text": text($0)] as [String: Any] }
        var top1: Any = NSNull()
        if let ranks = x.ranks, let best = ranks.top1 {
            top1 = ["id": best.id, "text": text(best.id), "logit": Double(best.logit)] as [String: Any]  // one number: not rounded
        }
        let targets = d.targets.map { t -> [String: Any] in
            for id in t.target.ids { _ = text(id) }
            return target(t, ranks: x.ranks, neuronsPerLayer: x.neuronsPerLayer)
        }
        for row in x.lens.cells { for cell in row { for id in cell.topIds { _ = text(id) } } }
        return [
            "prism_version": PrismVersion.string,
            "model": [
                "path": x.modelPath, "name": PathNames.lastComponent(of: x.modelPath), "generation": c.generation.displayName,
                "layers": c.numHiddenLayers, "heads": c.numAttentionHeads, "kv_heads": c.numKeyValueHeads, "d_model": c.hiddenSize,
                "d_mlp": c.intermediateSize, "vocab": c.vocabSize,
                "softcap": c.finalLogitSoftcapping.map { $0 as Any } ?? NSNull(),
            ] as [String: Any],
            "route": x.storedRoute.map { ["id": $0.id, "text": $0.text] as [String: Any] } ?? routeObject(x.route),
            "position": d.position,
            "prompt_length": d.ids.count,
            "tokens": tokens,
            "model_top1": top1,
            "frozen": d.frozen,
            "targets": targets,
            "patterns": patternsObject(x.patterns, layers: c.numHiddenLayers, heads: c.numAttentionHeads, tokens: d.position + 1),
            "lens": lensObject(x.lens, targets: d.targets.count),
            "vocab": vocab,
            "decompose": x.decomposeJSON,
        ]
    }

    /// How the run treated activations, as the header states it.
    public static func routeObject(_ route: ActivationRoute) -> [String: Any] {
        switch route {
        case .int8:
            return [
                "id": "int8",
                "text":
                    "int8 activations: activations quantized to int8 per block of 32 where int8 weights multiply them, except in the products the prisms split (exact there)",
            ]
        case .exact:
            return ["id": "exact", "text": "exact activations: int8 weights multiplied with fp32 activations everywhere (--exact-activations)"]
        }
    }

    static func target(_ t: TargetDecomposition, ranks: LogitRanks?, neuronsPerLayer: Int) -> [String: Any] {
        var residual: [[String: Any]] = [["name": "embed", "layer": -1, "kind": "embed", "value": round5(t.embed)]]
        for l in t.attn.indices {
            residual.append(["name": "blocks.\(l).attn", "layer": l, "kind": "attn", "value": round5(t.attn[l])])
            residual.append(["name": "blocks.\(l).mlp", "layer": l, "kind": "mlp", "value": round5(t.mlp[l])])
        }
        let neurons = t.neurons.map { ns in
            topIndices(ns, count: neuronsPerLayer).map { ["n": $0, "v": round5(ns[$0])] as [String: Any] }
        }
        return [
            "label": t.target.label,
            "ids": t.target.ids,
            "coefficients": t.target.terms.map { Double($0.coef) },
            "logit": t.logit, "sum": t.sum, "error": t.error, "finer_closure": t.finerClosure,
            "ranks": t.target.ids.map { id in ranks?.rank(id).map { $0 as Any } ?? NSNull() },
            "residual": residual,
            "heads": t.heads.map { $0.map(round5) },
            "head_sources": t.headSources.map { $0.map { $0.map(round5) } },
            "neurons": neurons,
            "neurons_per_layer": t.neurons.first?.count ?? 0,
        ]
    }

    /// Each head's pattern as bytes, row by row over the causal lower triangle (query q keeps
    /// keys 0...q): round(255 p), base64. Sliding-window layers' zeros stay zeros.
    public static func patternsObject(_ patterns: [[Float]], layers: Int, heads: Int, tokens: Int) -> [String: Any] {
        let T = tokens
        var data: [[String]] = []
        for l in 0..<min(layers, patterns.count) {
            let p = patterns[l]
            var perHead: [String] = []
            for h in 0..<heads {
                var bytes = [UInt8]()
                bytes.reserveCapacity(T * (T + 1) / 2)
                for q in 0..<T {
                    for k in 0...q {
                        let i = (h * T + q) * T + k
                        let v = i < p.count ? p[i] : 0
                        bytes.append(v.isFinite ? UInt8(max(0, min(255, (v * 255).rounded()))) : 0)
                    }
                }
                perHead.append(Data(bytes).base64EncodedString())
            }
            data.append(perHead)
        }
        return [
            "encoding": "per head, row q holds keys 0...q; byte = round(255 x probability); base64",
            "layers": data.count, "heads": heads, "tokens": T, "data": data,
        ]
    }

    static func lensObject(_ g: LensGrid, targets K: Int) -> [String: Any] {
        func per<T>(_ f: (LensGrid.Cell) -> T) -> [[T]] { g.cells.map { $0.map(f) } }
        return [
            "points": g.points, "positions": g.positions,
            "top_ids": per(\.topIds),
            "top_own": per { $0.topOwn.map { round5(Double($0)) } },
            "top_frozen": per { $0.topFrozen.map { round5(Double($0)) } },
            "target_own": (0..<K).map { k in per { round5($0.targetOwn[k]) } },
            "target_frozen": (0..<K).map { k in per { round5($0.targetFrozen[k]) } },
            "target_ranks": (0..<K).map { k in per { $0.targetRanks[k] } },
        ]
    }

    /// The indices of the `count` largest |values| (NaN last), largest first.
    static func topIndices(_ values: [Double], count: Int) -> [Int] {
        Array(
            values.indices.sorted { a, b in
                let x = values[a].isNaN ? -1 : abs(values[a]), y = values[b].isNaN ? -1 : abs(values[b])
                return x != y ? x > y : a < b
            }.prefix(count))
    }

    /// A piece as text: `▁` as a space, control characters escaped (`Display.quote` without its quotes).
    static func displayText(_ piece: String) -> String {
        String(Display.quote(piece).dropFirst().dropLast())
    }

    /// `v` to 5 significant digits (the page shows 4): the JSON stays small. Non-finite values
    /// are kept (the JSON writer spells them as strings).
    static func round5(_ v: Double) -> Double {
        guard v.isFinite, v != 0 else { return v }
        let scale = pow(10, 4 - floor(log10(abs(v))))
        return (v * scale).rounded() / scale
    }
}

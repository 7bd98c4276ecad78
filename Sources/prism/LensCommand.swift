import ArgumentParser
import Foundation
import PrismFormats
import PrismModel
import PrismSession
import PrismSupport
import Prisms

struct LensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "The logit lens: the residual stream after the embedding and after every block, read as logits.",
        discussion: """
            Each distinct point of the residual stream is read once: blocks.0.resid_pre (the scaled embedding), then blocks.L.resid_mid (after layer L's attention) and blocks.L.resid_post (after its MLP; the same vector as blocks.L+1.resid_pre), 1 + 2 x layers points. Each goes through the final norm and the unembedding. --norm own (default) uses each point's own 1/rms: the classic lens. --norm frozen uses the position's final 1/rms: the lens is then additive and agrees with the residual prism (the last point equals the logit).

            Per point: the top tokens, and each target's logit, its probability (softmax over the whole vocabulary at that point) and its rank. A --target-diff A B is the difference of two logits, which is log p(A)/p(B) (the normalizer cancels); it has no probability of its own, and its two tokens' probabilities and ranks are given.

            --all-positions reads every position of the prompt up to --position (default: all of them). Output: a table (default), --json, --csv FILE (one row per position, point and token), --npy DIR (arrays; see the README).
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(name: .customLong("target"), help: "A target token id to follow (repeatable).")
    var targetIds: [Int] = []

    @Option(name: .customLong("target-token"), help: ArgumentHelp("A target token as text (repeatable).", valueName: "text"))
    var targetTokens: [String] = []

    @Option(
        name: .customLong("target-diff"), parsing: .upToNextOption,
        help: ArgumentHelp("A logit difference: two tokens (text or #id) (repeatable).", valueName: "a b"))
    var targetDiffs: [String] = []

    @OptionGroup var at: PositionOptions

    @Flag(name: .customLong("all-positions"), help: "Read every position of the prompt, from 0 to --position.")
    var allPositions = false

    @Option(help: "Top tokens per point.")
    var top = 5

    @Option(help: "own (each point's 1/rms) or frozen (the position's final 1/rms).")
    var norm: LogitLens.NormMode = .own

    @Flag(
        name: .customLong("pre-softcap"),
        help: "On a model that soft-caps its logits (Gemma 2), show each point's logits before the cap instead of through c*tanh(z/c).")
    var preSoftcap = false

    @Option(help: ArgumentHelp("Write one CSV row per position, point and token (targets and top tokens) to this file.", valueName: "file"))
    var csv: String?

    @Option(help: ArgumentHelp("Write the lens as .npy arrays into this directory.", valueName: "dir"))
    var npy: String?

    @Flag(help: "Replace the --csv file or the files an earlier run wrote in the --npy directory.")
    var force = false

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be >= 0") }
        if targetDiffs.count % 2 != 0 { throw ValidationError("--target-diff takes two tokens each time") }
    }

    func run() throws {
        try CLI.guarded {
            let inputs = [model.model] + (at.acts.map { [$0] } ?? [])
            if let csv { try Outputs.checkFile(csv, force: force, inputs: inputs) }
            if let npy { try Outputs.checkSet(npy, force: force, inputs: inputs) }
            let clock = RuntimeOptions.Clock()
            let session = try model.session(runtime)
            defer { runtime.report(clock, session: session) }
            let tokens = targetIds.count + targetTokens.count + targetDiffs.count
            // The readout over the vocabulary at every point, and its output, are planned with the forward pass.
            let (source, ids, p, options, _) = try ActivationInput.source(
                session, prompt: prompt, acts: at.acts, position: at.position,
                extraBytes: { p in
                    let n = allPositions ? p + 1 : 1
                    return LogitLens.readoutBytes(session.model.config, positions: n, targets: tokens, top: top)
                        + LensOutput.outputBytes(points: n * (1 + 2 * session.model.config.numHiddenLayers), tokens: tokens + top)
                })
            let ts = try TargetOptions.resolve(session, ids: targetIds, tokens: targetTokens, diffs: targetDiffs)
            let positions = allPositions ? Array(0...p) : [p]
            let lens = try LogitLens(prism: Prism(model: session.model)).run(
                source, positions: positions, targets: ts, mode: norm, top: top,
                streamWeights: options.streamWeights, softcap: !preSoftcap)
            let out = try LensOutput(
                session: session, ids: ids, positions: positions, targets: ts, lens: lens, norm: norm,
                preSoftcap: preSoftcap, stored: at.acts != nil)
            if let csv { try writeFileAtomically(Data(out.csv().utf8), to: csv, force: force) }
            if let npy { try DecompositionFiles.writeSet(npy, force: force, inputs: inputs, try out.npyFiles()) }
            if output.json {
                try JSONOut.print(out.json())
            } else if csv == nil && npy == nil {
                out.printTable()
            }
        }
    }
}

extension LogitLens.NormMode: ExpressibleByArgument {}

/// The lens's outputs: table, JSON, CSV and .npy, from one reading.
struct LensOutput {
    let ids: [Int]
    let positions: [Int]
    let targets: [Target]
    let lens: [[LogitLens.Point]]
    let norm: LogitLens.NormMode
    let preSoftcap: Bool
    let cap: Double?
    let route: String
    let routeText: String
    /// Pieces (as the tokenizer has them) and texts (`▁` as a space) of every id shown.
    let piece: [Int: String]
    let text: [Int: String]

    init(
        session: PrismSession, ids: [Int], positions: [Int], targets: [Target], lens: [[LogitLens.Point]],
        norm: LogitLens.NormMode, preSoftcap: Bool, stored: Bool
    ) throws {
        self.ids = ids
        self.positions = positions
        self.targets = targets
        self.lens = lens
        self.norm = norm
        self.preSoftcap = preSoftcap
        cap = session.model.config.finalLogitSoftcapping
        route = OutputStamp.route(session, stored: stored)
        routeText = OutputStamp.routeText(session, stored: stored)
        // Read before anything is printed (from the id -> piece table when no text was encoded:
        // a lens given ids never parses the tokenizer).
        var piece: [Int: String] = [:], text: [Int: String] = [:]
        let shown = ids + targets.flatMap(\.ids) + lens.flatMap { $0.flatMap { $0.top.map(\.id) } }
        for id in shown where text[id] == nil {
            text[id] = try TokenText.of(id, session)
            if session.hasTokenizer { piece[id] = try session.piece(id) }
        }
        self.piece = piece
        self.text = text
    }

    /// Bytes the JSON of `points` points with `tokens` tokens each takes while it is built
    /// (Foundation boxes every number, then the text is copied): a generous 400 bytes per token.
    static func outputBytes(points: Int, tokens: Int) -> Int { points * (512 + 400 * tokens) }

    var frozen: [String] { norm == .frozen ? ["final RMSNorm scale 1/rms(x_p) at each position read (ln_final.scale)"] : [] }

    func quoted(_ id: Int) -> String { piece[id].map(Display.quote) ?? "#\(id)" }

    func tokenText(_ id: Int) -> String { text[id] ?? "#\(id)" }

    /// A target's label without the tables' quotes: the token's text, or "A - B".
    func plainLabel(_ t: Target) -> String {
        TokenText.label(t, tokenText)
    }

    func targetObject(_ t: Target) -> [String: Any] {
        var o: [String: Any] = ["label": t.label, "text": plainLabel(t)]
        if t.terms.count == 1 {
            o["id"] = t.ids[0]
        } else {
            o["ids"] = t.ids
            o["coefficients"] = t.terms.map { Double($0.coef) }
        }
        return o
    }

    func readingObject(_ point: LogitLens.Point, _ k: Int) -> [String: Any] {
        let r = point.readings[k]
        if targets[k].terms.count == 1, let one = r.first {
            return ["logit": point.targets[k], "probability": one.probability, "rank": one.rank.map { $0 as Any } ?? NSNull()]
        }
        return [
            "logit": point.targets[k], "probabilities": r.map(\.probability),
            "ranks": r.map { $0.rank.map { $0 as Any } ?? NSNull() },
        ]
    }

    func json() -> [String: Any] {
        var o: [String: Any] = [
            "prism_version": PrismVersion.string, "route": route,
            "ids": ids, "position": positions.last ?? 0, "positions": positions, "norm": norm.rawValue,
            "softcap": cap.map { ["cap": $0, "applied": !preSoftcap] as [String: Any] } ?? NSNull(),
            "frozen": frozen,
            "targets": targets.map(targetObject),
            "points": lens.flatMap { $0 }.map { pt in
                [
                    "position": pt.position, "name": pt.name, "after": pt.after,
                    "targets": targets.indices.map { readingObject(pt, $0) },
                    "top": pt.top.map {
                        ["id": $0.id, "token": text[$0.id] ?? "#\($0.id)", "logit": Double($0.logit), "probability": exp(Double($0.logit) - pt.logSumExp)]
                            as [String: Any]
                    },
                ] as [String: Any]
            },
        ]
        if !piece.isEmpty { o["tokens"] = ids.map { piece[$0] ?? "?" } }
        return o
    }

    /// One row per position, point and token: each target (`role` target) and each top token
    /// (`role` top, `rank` its place). A difference target's row has no token id, probability or rank.
    func csv() -> String {
        var s = CSVText.row([
            "position", "position_token_id", "position_token", "point_index", "point", "after", "role", "target_index",
            "token_id", "token", "logit", "probability", "rank",
        ])
        for column in lens {
            for (i, pt) in column.enumerated() {
                let lead = [String(pt.position), String(ids[pt.position]), tokenText(ids[pt.position]), String(i), pt.name, pt.after]
                for (k, t) in targets.enumerated() {
                    let single = t.terms.count == 1
                    let r = pt.readings[k].first
                    s += CSVText.row(
                        lead + [
                            "target", String(k), single ? String(t.ids[0]) : "", plainLabel(t), CSVText.number(pt.targets[k]),
                            single ? CSVText.number(r?.probability ?? .nan) : "", single ? (r?.rank.map(String.init) ?? "") : "",
                        ])
                }
                for (j, e) in pt.top.enumerated() {
                    s += CSVText.row(
                        lead + [
                            "top", "", String(e.id), tokenText(e.id), CSVText.number(Double(e.logit)),
                            CSVText.number(exp(Double(e.logit) - pt.logSumExp)), String(j + 1),
                        ])
                }
            }
        }
        return s
    }

    /// logits.npy / probabilities.npy / ranks.npy [N, P, K] (a difference: NaN / -1), top_ids.npy
    /// and top_logits.npy [N, P, top] (-1 / NaN past the tokens found), ids.npy [N], lens.json.
    func npyFiles() throws -> [(name: String, bytes: [UInt8])] {
        let N = lens.count, P = lens.first?.count ?? 0, K = targets.count
        let k = lens.flatMap { $0.map(\.top.count) }.max() ?? 0
        let all = lens.flatMap { $0 }
        var logits: [Double] = [], probs: [Double] = [], ranks: [Int] = [], topIds: [Int] = [], topLogits: [Double] = []
        for pt in all {
            for (j, t) in targets.enumerated() {
                logits.append(pt.targets[j])
                let single = t.terms.count == 1
                probs.append(single ? pt.readings[j][0].probability : .nan)
                ranks.append(single ? (pt.readings[j][0].rank ?? -1) : -1)
            }
            for j in 0..<k {
                topIds.append(j < pt.top.count ? pt.top[j].id : -1)
                topLogits.append(j < pt.top.count ? Double(pt.top[j].logit) : .nan)
            }
        }
        var meta = json()
        meta.removeValue(forKey: "points")
        meta["point_names"] = all.prefix(P).map(\.name)
        meta["point_after"] = all.prefix(P).map(\.after)
        meta["targets"] = targets.enumerated().map { j, t in
            ["index": j, "label": plainLabel(t), "ids": t.ids, "coefficients": t.terms.map { Double($0.coef) }, "tokens": t.ids.map(tokenText)] as [String: Any]
        }
        meta["arrays"] = [
            "logits.npy": [N, P, K], "probabilities.npy": [N, P, K], "ranks.npy": [N, P, K], "top_ids.npy": [N, P, k],
            "top_logits.npy": [N, P, k], "ids.npy": [N],
        ]
        return [
            ("logits.npy", NPY.encode(shape: [N, P, K], float64: logits)),
            ("probabilities.npy", NPY.encode(shape: [N, P, K], float64: probs)),
            ("ranks.npy", NPY.encode(shape: [N, P, K], int64: ranks)),
            ("top_ids.npy", NPY.encode(shape: [N, P, k], int64: topIds)),
            ("top_logits.npy", NPY.encode(shape: [N, P, k], float64: topLogits)),
            ("ids.npy", NPY.encode(shape: [N], int64: positions.map { ids[$0] })),
            ("lens.json", Array((try JSONOut.string(meta) + "\n").utf8)),
        ]
    }

    /// Per position: a header, then one line per point with each target's logit, probability
    /// and rank, and the top tokens.
    func printTable() {
        let capText = cap.map { c in
            preSoftcap ? "logits before the soft-cap (the model outputs \(c) tanh(z/\(c)))" : "logits through the soft-cap \(c) tanh(z/\(c))"
        }
        print(
            "logit lens, norm: \(norm == .own ? "each point's own 1/rms" : "the position's frozen final 1/rms")"
                + (capText.map { "; " + $0 } ?? "") + "; route: \(routeText)")
        if !targets.isEmpty {
            print("per target: logit, probability p (softmax over the vocabulary at the point) and rank #; a difference: logit and its tokens' ranks")
        }
        let width = 24
        let header = targets.map { DecompositionTable.pad($0.label, width) }.joined(separator: " ")
        for column in lens {
            guard let q = column.first?.position else { continue }
            print("\nposition \(q) \(quoted(ids[q]))")
            print("point                after          \(header)\(header.isEmpty ? "" : " ")top tokens")
            for pt in column {
                let cells = targets.indices.map { k -> String in
                    let r = pt.readings[k]
                    let cell =
                        targets[k].terms.count == 1
                        ? String(format: "%+9.3f p %.3f", pt.targets[k], r[0].probability) + " #" + (r[0].rank.map(String.init) ?? "-")
                        : String(format: "%+9.3f", pt.targets[k]) + " #" + r.map { $0.rank.map(String.init) ?? "-" }.joined(separator: "/#")
                    return DecompositionTable.pad(cell, width)
                }.joined(separator: " ")
                let topText = pt.top.map { "\(quoted($0.id)) \(String(format: "%.2f", $0.logit))" }.joined(separator: ", ")
                print("\(DecompositionTable.pad(pt.name, 20)) \(DecompositionTable.pad(pt.after, 14)) \(cells)\(cells.isEmpty ? "" : " ")\(topText)")
            }
        }
    }
}

struct PathsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paths",
        abstract: "Chained prisms: split a head's or neuron's term by the pieces of its input.",
        discussion: """
            A head (or neuron) with its factors frozen is a linear map from the residual vector it \
            reads to the target logits. Through head H of layer L reading source J:
              prism paths -m MODEL --prompt "The capital city of France is" --target-token " Paris" --layer 12 --head 3 --source 5
            splits that head-source term into the embedding and each earlier block's write at J (they add \
            up to the term). Through neuron N:  --layer 10 --neuron 4242. \
            --apply-to TOKEN... applies the same frozen map to other tokens' scaled embeddings \
            (sqrt(d) * E[token]): "what would this head write for Russia instead of France".
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var targets: TargetOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var runtime: RuntimeOptions

    @OptionGroup var at: PositionOptions

    @Option(help: "Layer of the head or neuron.")
    var layer: Int

    @Option(help: "Attention head (with --source).")
    var head: Int?

    @Option(help: "Source position read by the head (negative counts from the end).")
    var source: Int?

    @Option(help: "MLP neuron.")
    var neuron: Int?

    @Option(name: .customLong("apply-to"), parsing: .upToNextOption, help: "Tokens (text or #id) whose scaled embeddings the frozen map is applied to.")
    var applyTo: [String] = []

    func validate() throws {
        if (head == nil) == (neuron == nil) { throw ValidationError("give either --head with --source, or --neuron") }
        if head != nil && source == nil { throw ValidationError("--head needs --source") }
    }

    func run() throws {
        try CLI.guarded {
            let clock = RuntimeOptions.Clock()
            let session = try model.session(runtime)
            defer { runtime.report(clock, session: session) }
            let (src, ids, p, _, _) = try ActivationInput.source(session, prompt: prompt, acts: at.acts, position: at.position)
            let ts = try targets.resolve(session)
            var prism = Prism(model: session.model)
            prism.logitKind = targets.logitKind
            let paths: [PathDecomposition]
            let maps: [FrozenMap]
            if let head, let source {
                let j = source < 0 ? ids.count + source : source
                paths = try prism.headPath(src, position: p, layer: layer, head: head, source: j, targets: ts)
                maps = try prism.headMaps(src, position: p, layer: layer, head: head, source: j, targets: ts)
            } else {
                paths = try prism.neuronPath(src, position: p, layer: layer, neuron: neuron ?? 0, targets: ts)
                maps = try prism.neuronMaps(src, position: p, layer: layer, neuron: neuron ?? 0, targets: ts)
            }
            let applied = try applyTo.map { try session.singleToken($0) }
            let values = applied.isEmpty ? [] : try prism.applyToEmbeddings(maps, tokens: applied)
            // The source a head path goes through, named, with the head's attention to it; a source
            // the head does not read gives a term of zero, which is a question worth a warning.
            var sourceInfo: [String: Any]? = nil
            if let head, let source {
                let j = source < 0 ? ids.count + source : source
                let row = try src.patternRow(layer: layer, position: p)
                let keys = row.count / max(1, session.model.heads)
                let weights = Array(row[(head * keys)..<((head + 1) * keys)])
                let a = Double(weights[j])
                sourceInfo = ["position": j, "id": ids[j], "token": try session.text(ids[j]), "attention": a]
                if a < 1e-3, let best = weights.indices.max(by: { weights[$0] < weights[$1] }) {
                    FileHandle.standardError.write(
                        Data(
                            ("warning: \(ComponentName.head(layer, head)) gives source \(j) \(Display.quote(try session.text(ids[j]))) attention "
                                + "\(String(format: "%.4f", a)): its term is about 0; the head reads \(best) \(Display.quote(try session.text(ids[best]))) most "
                                + "(\(String(format: "%.3f", weights[best])))\n").utf8))
                }
            }
            let frozen =
                Decomposition.frozen(prism.model.config, logit: prism.logitKind) + [
                    "per-source 1/rms of the block's input norm (blocks.*.ln1.scale / ln2.scale)"
                ]
            if output.json {
                var obj: [String: Any] = [
                    "ids": ids, "position": p, "through": paths.first?.through ?? "", "frozen": frozen,
                    "targets": zip(paths, ts.indices).map { path, k in
                        [
                            "label": path.target.label, "pieces": Dictionary(uniqueKeysWithValues: zip(path.pieceNames, path.pieces)),
                            "piece_order": path.pieceNames, "total": path.total, "sum": path.pieces.reduce(0, +), "error": path.error,
                            "applied": applied.isEmpty ? [] : zip(applyTo, values[k]).map { ["token": $0.0, "value": $0.1] as [String: Any] },
                        ] as [String: Any]
                    },
                ]
                if let sourceInfo { obj["source"] = sourceInfo }
                OutputStamp.stamp(&obj, session, stored: at.acts != nil)
                try JSONOut.print(obj)
                return
            }
            print("through \(paths.first?.through ?? "") at position \(p); frozen: \(frozen.joined(separator: "; "))")
            if let info = sourceInfo, let j = info["position"] as? Int, let a = info["attention"] as? Double {
                print("source \(j) \(Display.quote(try session.text(ids[j]))) (id \(ids[j])), attention \(String(format: "%.4f", a))")
            }
            print("route: \(OutputStamp.routeText(session, stored: at.acts != nil))")
            for (k, path) in paths.enumerated() {
                print(
                    "\ntarget \(path.target.label): term \(String(format: "%+.5f", path.total)) = sum of pieces \(String(format: "%+.5f", path.pieces.reduce(0, +))) (error \(String(format: "%.2e", path.error)))"
                )
                for (name, v) in zip(path.pieceNames, path.pieces) { print("  \(DecompositionTable.pad(name, 18)) \(DecompositionTable.fmt(v))") }
                if !applied.isEmpty {
                    print("  the same frozen map applied to scaled embeddings:")
                    for (text, v) in zip(applyTo, values[k]) { print("  \(DecompositionTable.pad(text, 18)) \(DecompositionTable.fmt(v))") }
                }
            }
        }
    }
}

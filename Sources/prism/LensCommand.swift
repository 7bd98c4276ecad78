import ArgumentParser
import Foundation
import PrismModel
import PrismSession
import PrismSupport
import Prisms

struct LensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "The logit lens: the residual stream before and after every block, read as logits.",
        discussion: """
            Each point (blocks.L.resid_pre, blocks.L.resid_mid, blocks.L.resid_post) goes through the
            final norm and the unembedding. --norm own (default) uses each point's own 1/rms: the
            classic lens. --norm frozen uses the final position's frozen scale: the lens is then
            additive and agrees with the residual prism (the last point equals the logit).
            Prints the top tokens per point and, with targets, each target's logit per point.
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(name: .customLong("target"), help: "A target token id to follow (repeatable).")
    var targetIds: [Int] = []

    @Option(name: .customLong("target-token"), help: "A target token as text (repeatable).")
    var targetTokens: [String] = []

    @OptionGroup var at: PositionOptions

    @Option(help: "Top tokens per point.")
    var top = 5

    @Option(help: "own (each point's 1/rms) or frozen (the final position's 1/rms).")
    var norm: LogitLens.NormMode = .own

    @Flag(
        name: .customLong("pre-softcap"),
        help: "On a model that soft-caps its logits (Gemma 2), show each point's logits before the cap instead of through c*tanh(z/c).")
    var preSoftcap = false

    func run() throws {
        try CLI.guarded {
            let clock = RuntimeOptions.Clock()
            let session = try model.session(runtime)
            defer { runtime.report(clock, session: session) }
            // The readout over the vocabulary at every point is planned with the forward pass.
            let readout = LogitLens.readoutBytes(session.model.config)
            let (source, ids, p, options, _) = try ActivationInput.source(
                session, prompt: prompt, acts: at.acts, position: at.position,
                extraBytes: { _ in readout })
            let ts = try session.targets(ids: targetIds, tokens: targetTokens, diffs: [], style: .quoted)
            let points = try LogitLens(prism: Prism(model: session.model)).run(
                source, position: p, targets: ts, mode: norm, top: top,
                streamWeights: options.streamWeights, softcap: !preSoftcap)
            let cap = session.model.config.finalLogitSoftcapping
            let capText = cap.map { c in
                preSoftcap ? "logits before the soft-cap (the model outputs \(c) tanh(z/\(c)))" : "logits through the soft-cap \(c) tanh(z/\(c))"
            }
            // The pieces shown, read before anything is printed (from the id -> piece table when
            // no text was encoded: a lens given ids never parses the tokenizer).
            var shown: [Int: String] = [:]
            if session.hasTokenizer {
                for id in [ids[p]] + points.flatMap({ $0.top.map(\.id) }) where shown[id] == nil { shown[id] = try session.piece(id) }
            }
            func piece(_ id: Int) -> String { shown[id] ?? "#\(id)" }
            if output.json {
                try JSONOut.print([
                    "ids": ids, "position": p, "norm": norm.rawValue, "softcap": cap.map { ["cap": $0, "applied": !preSoftcap] as [String: Any] } ?? NSNull(),
                    "frozen": norm == .frozen ? ["final RMSNorm scale 1/rms(x_p) (ln_final.scale)"] : [],
                    "targets": ts.map(\.label),
                    "points": points.map { pt in
                        [
                            "name": pt.name, "targets": pt.targets,
                            "top": pt.top.map { ["id": $0.id, "token": piece($0.id), "logit": Double($0.logit)] as [String: Any] },
                        ] as [String: Any]
                    },
                ])
                return
            }
            print(
                "logit lens at position \(p) \(Display.quote(piece(ids[p]))), norm: \(norm == .own ? "each point's own 1/rms" : "final position's frozen 1/rms")"
                    + (capText.map { "; " + $0 } ?? "")
            )
            let header = ts.map(\.label).joined(separator: "  ")
            print("point                  \(header)\(header.isEmpty ? "" : "  ")top tokens")
            for pt in points {
                let vals = pt.targets.map { String(format: "%+9.3f", $0) }.joined(separator: "  ")
                let topText = pt.top.map { "\(Display.quote(piece($0.id))) \(String(format: "%.2f", $0.logit))" }.joined(separator: ", ")
                print("\(DecompositionTable.pad(pt.name, 22)) \(vals)\(vals.isEmpty ? "" : "  ")\(topText)")
            }
        }
    }
}

extension LogitLens.NormMode: ExpressibleByArgument {}

struct PathsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paths",
        abstract: "Chained prisms: split a head's or neuron's term by the pieces of its input.",
        discussion: """
            A head (or neuron) with its factors frozen is a linear map from the residual vector it
            reads to the target logits. Through head H of layer L reading source J:
              prism paths -m MODEL --prompt "The capital city of France is" --target-token " Paris" --layer 12 --head 3 --source 5
            splits that head-source term into the embedding and each earlier block's write at J (they add
            up to the term). Through neuron N:  --layer 10 --neuron 4242.
            --apply-to TOKEN... applies the same frozen map to other tokens' scaled embeddings
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
            let frozen =
                Decomposition.frozen(prism.model.config, logit: prism.logitKind) + [
                    "per-source 1/rms of the block's input norm (blocks.*.ln1.scale / ln2.scale)"
                ]
            if output.json {
                try JSONOut.print([
                    "ids": ids, "position": p, "through": paths.first?.through ?? "", "frozen": frozen,
                    "targets": zip(paths, ts.indices).map { path, k in
                        [
                            "label": path.target.label, "pieces": Dictionary(uniqueKeysWithValues: zip(path.pieceNames, path.pieces)),
                            "piece_order": path.pieceNames, "total": path.total, "sum": path.pieces.reduce(0, +), "error": path.error,
                            "applied": applied.isEmpty ? [] : zip(applyTo, values[k]).map { ["token": $0.0, "value": $0.1] as [String: Any] },
                        ] as [String: Any]
                    },
                ])
                return
            }
            print("through \(paths.first?.through ?? "") at position \(p); frozen: \(frozen.joined(separator: "; "))")
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

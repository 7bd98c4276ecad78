import ArgumentParser
import Foundation
import PrismExplorer
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import Prisms

struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Write one self-contained HTML explorer of a decomposition (opens from disk, no network).",
        discussion: """
            The page states the model, the route (int8 or exact activations), the model's top-1 token, each target's logit, rank and closure, and what was frozen; it draws the residual prism as bars, the layer x head grid of head terms, the selected head's attention pattern and source terms, the top neurons per layer, and the logit lens at every position (own or frozen norm). Hover any mark for its value; click a head or a layer to filter the rest. The data are one JSON object inside the page (with the object `decompose --json` prints, under "decompose").

            Examples:
              prism explore -m models/tiny-gemma.prism --prompt "The capital of France is" --target-token " Paris" -o paris.html
              prism explore -m MODEL --prompt "7+2=" --target-diff 9 8 -o sums.html --force
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var targets: TargetOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var at: PositionOptions

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The HTML file to write.", valueName: "file.html"))
    var outputPath: String

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    @Option(help: "How many of the largest terms per kind the embedded `decompose --json` object lists.")
    var top = 10

    @Option(name: .customLong("neurons"), help: "Neurons kept per layer and target (the largest |term|).")
    var neuronsPerLayer = 12

    @Option(name: .customLong("lens-top"), help: "Top tokens kept per logit-lens cell.")
    var lensTop = 3

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be >= 0") }
        if neuronsPerLayer < 1 { throw ValidationError("--neurons must be at least 1") }
        if lensTop < 1 { throw ValidationError("--lens-top must be at least 1") }
    }

    func run() throws {
        try CLI.guarded {
            let inputs = [model.model] + (at.acts.map { [$0] } ?? [])
            try Outputs.checkFile(outputPath, force: force, inputs: inputs)
            let clock = RuntimeOptions.Clock()
            let session = try model.session(runtime)
            defer { runtime.report(clock, session: session) }
            let config = session.model.config
            // Every position is recorded (the lens and the patterns cover the whole prompt); the
            // decomposition, the lens readout and the patterns' copy are planned with the pass.
            let (source, ids, p, options, logits) = try ActivationInput.source(
                session, prompt: prompt, acts: at.acts, position: at.position
            ) { p in
                Decomposition.heldBytes(targets: targets.count, position: p, config: config)
                    + LensGrid.readoutBytes(config, positions: p + 1)
                    + 4 * config.numHiddenLayers * config.numAttentionHeads * (p + 1) * (p + 1)
            }
            let ts = try targets.resolve(session)
            var prism = Prism.once(session.model)
            prism.logitKind = targets.logitKind
            let d = try prism.decompose(source, position: p, targets: ts, options: options)
            let ranks = logits.map(LogitRanks.init)
            if let ranks {
                for text in targets.targetTokens {
                    if let w = try TargetRanking.twinWarning(text, session: session, ranks: ranks) {
                        FileHandle.standardError.write(Data((w + "\n").utf8))
                    }
                }
            }
            let lens = try LensGrid.read(
                session.model, source: source, positions: p + 1, targets: ts, top: lensTop,
                softcap: targets.logitKind == .capped, streamWeights: options.streamWeights)
            let patterns = try Self.patterns(source, layers: config.numHiddenLayers, positions: p + 1)
            var decomposeObject = DecompositionJSON.object(d, pieces: try session.texts(ids), detail: .summary, top: top)
            if let ranks {
                let top1Token = try ranks.top1.map { try session.text($0.id) }
                DecompositionJSON.addRanks(&decomposeObject, ranks: ranks, top1Token: top1Token)
            }
            var shown = Set(ids.prefix(p + 1)).union(ts.flatMap(\.ids)).union(lens.cells.flatMap { $0.flatMap(\.topIds) })
            if let best = ranks?.top1 { shown.insert(best.id) }
            var pieces: [Int: String] = [:]
            if session.hasTokenizer { for id in shown { pieces[id] = try session.piece(id) } }
            var inputsForPage = ExplorerInputs(
                modelPath: model.model, config: config, route: session.route, decomposition: d, decomposeJSON: decomposeObject,
                ranks: ranks, lens: lens, patterns: patterns, pieces: pieces)
            inputsForPage.neuronsPerLayer = neuronsPerLayer
            let title = "prism explore: " + ts.map(\.label).joined(separator: ", ")
            let html = try ExplorerHTML.page(ExplorerData.object(inputsForPage), title: title)
            let bytes = Data(html.utf8)
            try writeFileAtomically(bytes, to: outputPath, force: force)
            if output.json {
                try JSONOut.print(decomposeObject)
            } else {
                print("wrote \(outputPath) (\(ByteSize.format(bytes.count))): open it in a browser")
            }
        }
    }

    /// Each layer's attention pattern over positions `0..<positions` as `[H, positions, positions]`
    /// (a store may hold a longer prompt: its `[H, T, S]` is cut to the decomposed prefix).
    /// - Throws: `PrismError` when a layer's pattern is missing or too small.
    static func patterns(_ source: ActivationSource, layers: Int, positions P: Int) throws -> [[Float]] {
        try (0..<layers).map { l in
            let t = try source.activation(ActivationName.pattern(l))
            guard t.shape.count == 3, t.shape[1] >= P, t.shape[2] >= P, t.values.count == t.shape.reduce(1, *) else {
                throw PrismError("activation \(ActivationName.pattern(l)) has shape \(t.shape), not [heads, >= \(P), >= \(P)]")
            }
            let (H, T, S) = (t.shape[0], t.shape[1], t.shape[2])
            var out = [Float](repeating: 0, count: H * P * P)
            for h in 0..<H {
                for q in 0..<P { for k in 0..<P { out[(h * P + q) * P + k] = t.values[(h * T + q) * S + k] } }
            }
            return out
        }
    }
}

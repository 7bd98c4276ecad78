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
            The page states the model, the route (int8 or exact activations), the model's top-1 token, each target's logit, rank and closure, and what was frozen; it draws the residual prism as bars, the layer x head grid of head terms, the selected head's attention pattern and source terms, the top neurons per layer, and the logit lens at every position (own or frozen norm). Hover any mark for its value; click a head or a layer to filter the rest. The data are one JSON object inside the page (with the object `decompose --json` prints, under "decompose"); --json prints that object on stdout after writing the page, instead of the line naming the file.

            Examples:
              prism explore -m models/tiny-gemma.prism --prompt "The capital of France is" --target-token " Paris" -o paris.html
              prism explore -m MODEL --prompt "7+2=" --target-diff 9 8 -o sums.html --force
            """
    )

    @OptionGroup var input: DecomposeInputOptions

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The HTML file to write.", valueName: "file.html"))
    var outputPath: String

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    @Option(parsing: .unconditional, help: "How many of the largest terms per kind the embedded `decompose --json` object lists.")
    var top = 10

    @Option(name: .customLong("neurons"), parsing: .unconditional, help: "Neurons kept per layer and target (the largest |term|).")
    var neuronsPerLayer = 12

    @Option(name: .customLong("lens-top"), parsing: .unconditional, help: "Top tokens kept per logit-lens cell.")
    var lensTop = 3

    func validate() throws {
        if top < 0 || top > CLI.maxCount { throw ValidationError("--top must be between 0 and \(CLI.maxCount)") }
        if neuronsPerLayer < 1 { throw ValidationError("--neurons must be at least 1") }
        if lensTop < 1 { throw ValidationError("--lens-top must be at least 1") }
    }

    func run() throws {
        try input.run(checking: { try Outputs.checkFile(outputPath, force: force, inputs: input.inputs) }) { session in
            let config = session.model.config
            // Every position is recorded (the lens and the patterns cover the whole prompt); the
            // decomposition, the lens readout and the patterns' copy are planned with the pass.
            let (source, ids, p, options, logits) = try input.activations(session) { p in
                Decomposition.heldBytes(targets: input.targets.count, position: p, config: config)
                    + LensGrid.readoutBytes(config, positions: p + 1)
                    + 4 * config.numHiddenLayers * config.numAttentionHeads * (p + 1) * (p + 1)
            }
            let (d, ts) = try input.targets.decompose(session, source, position: p, prompt: ids, options: options)
            let ranks = logits.map(LogitRanks.init)
            try input.targets.warnTwins(session, ranks: ranks)
            let lens = try LensGrid.read(
                session.model, source: source, positions: p + 1, targets: ts, top: lensTop,
                softcap: input.targets.logitKind == .capped, streamWeights: options.streamWeights)
            let patterns = try Self.patterns(source, layers: config.numHiddenLayers, positions: p + 1)
            var decomposeObject = DecompositionJSON.object(d, pieces: try session.texts(ids), detail: .summary, top: top)
            if let ranks {
                let top1Token = try ranks.top1.map { try session.text($0.id) }
                DecompositionJSON.addRanks(&decomposeObject, ranks: ranks, top1Token: top1Token)
            }
            OutputStamp.stamp(&decomposeObject, session, stored: input.stored)
            var inputsForPage = ExplorerInputs(
                modelPath: input.model.model, config: config, route: session.route, decomposition: d, decomposeJSON: decomposeObject,
                ranks: ranks, lens: lens, patterns: patterns,
                pieces: try Self.pieces(session, ids: Array(ids.prefix(p + 1)), targets: ts, lens: lens, ranks: ranks))
            inputsForPage.neuronsPerLayer = neuronsPerLayer
            if input.stored {
                inputsForPage.storedRoute = (OutputStamp.route(session, stored: true), OutputStamp.routeText(session, stored: true))
            }
            try write(ExplorerData.object(inputsForPage), title: "prism explore: " + ts.map(\.label).joined(separator: ", "), decomposeObject)
        }
    }

    /// The piece of every token the page shows: the prompt's, the targets', the lens cells' and
    /// the model's top-1 (none without a tokenizer).
    static func pieces(_ session: PrismSession, ids: [Int], targets ts: [Target], lens: LensGrid, ranks: LogitRanks?) throws -> [Int: String] {
        var shown = Set(ids).union(ts.flatMap(\.ids)).union(lens.cells.flatMap { $0.flatMap(\.topIds) })
        if let best = ranks?.top1 { shown.insert(best.id) }
        var pieces: [Int: String] = [:]
        if session.hasTokenizer { for id in shown { pieces[id] = try session.piece(id) } }
        return pieces
    }

    /// The page written to `--output`; then the `decompose --json` object (`--json`) or a line naming the file.
    func write(_ data: [String: Any], title: String, _ decomposeObject: [String: Any]) throws {
        let html = try ExplorerHTML.page(data, title: title)
        let bytes = Data(html.utf8)
        try writeFileAtomically(bytes, to: outputPath, force: force)
        if input.output.json {
            try JSONOut.print(decomposeObject)
        } else {
            print("wrote \(outputPath) (\(ByteSize.format(bytes.count))): open it in a browser")
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

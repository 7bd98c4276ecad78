import ArgumentParser
import Foundation
import PrismFormats
import PrismModel
import PrismOutputs
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

    @Option(name: .customLong("target"), parsing: .unconditionalSingleValue, help: "A target token id to follow (repeatable).")
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

    @Option(parsing: .unconditional, help: "Top tokens per point.")
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
        if top < 0 || top > CLI.maxCount { throw ValidationError("--top must be between 0 and \(CLI.maxCount)") }
        if targetDiffs.count % 2 != 0 { throw ValidationError("--target-diff takes two tokens each time") }
    }

    func run() throws {
        let inputs = [model.model] + (at.acts.map { [$0] } ?? [])
        try model.run(runtime, checking: { try checkOutputs(inputs) }) { session in
            let tokens = targetIds.count + targetTokens.count + targetDiffs.count
            // The readout over the vocabulary at every point, and its output, are planned with the forward pass.
            let (source, ids, p, options, _) = try ActivationInput.source(
                session, prompt: prompt, acts: at.acts, position: at.position,
                extraBytes: { p in
                    let n = allPositions ? p + 1 : 1
                    return LogitLens.readoutBytes(session.model.config, positions: n, targets: tokens, top: top)
                        + LensOutput.outputBytes(points: n * (1 + 2 * session.model.config.numHiddenLayers), tokens: tokens + top)
                })
            try TargetOptions.checkPreSoftcap(preSoftcap, session)
            let ts = try TargetOptions.resolve(session, ids: targetIds, tokens: targetTokens, diffs: targetDiffs)
            let positions = allPositions ? Array(0...p) : [p]
            let lens = try LogitLens(prism: Prism(model: session.model)).run(
                source, positions: positions, targets: ts, mode: norm, top: top,
                streamWeights: options.streamWeights, softcap: !preSoftcap)
            let out = try LensOutput(
                session: session, ids: ids, positions: positions, targets: ts, lens: lens, norm: norm,
                preSoftcap: preSoftcap, stored: at.acts != nil)
            try write(out, inputs: inputs)
        }
    }

    /// `--csv` and `--npy` checked before any work.
    func checkOutputs(_ inputs: [String]) throws {
        if let csv { try Outputs.checkFile(csv, force: force, inputs: inputs) }
        if let npy { try Outputs.checkSet(npy, force: force, inputs: inputs) }
    }

    /// The CSV file, the NPY set, and the JSON object or (with neither file) the table.
    func write(_ out: LensOutput, inputs: [String]) throws {
        if let csv { try writeFileAtomically(Data(out.csv().utf8), to: csv, force: force) }
        if let npy { try DecompositionFiles.writeSet(npy, force: force, inputs: inputs, try out.npyFiles()) }
        if output.json {
            try JSONOut.print(out.json())
        } else if csv == nil && npy == nil {
            var stdout = try StandardOutput()
            out.writeTable(to: &stdout)
        }
    }
}

extension LogitLens.NormMode: ExpressibleByArgument {}

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

    @OptionGroup var input: DecomposeInputOptions

    @Option(parsing: .unconditional, help: "Layer of the head or neuron.")
    var layer: Int

    @Option(parsing: .unconditional, help: "Attention head (with --source).")
    var head: Int?

    @Option(parsing: .unconditional, help: "Source position read by the head (negative counts from the end).")
    var source: Int?

    @Option(parsing: .unconditional, help: "MLP neuron.")
    var neuron: Int?

    @Option(name: .customLong("apply-to"), parsing: .upToNextOption, help: "Tokens (text or #id) whose scaled embeddings the frozen map is applied to.")
    var applyTo: [String] = []

    func validate() throws {
        if (head == nil) == (neuron == nil) { throw ValidationError("give either --head with --source, or --neuron") }
        if head != nil && source == nil { throw ValidationError("--head needs --source") }
    }

    func run() throws {
        try input.run { session in
            let (src, ids, p, _, _) = try input.activations(session)
            let ts = try input.targets.resolve(session)
            var prism = Prism(model: session.model)
            prism.logitKind = input.targets.logitKind
            let (paths, maps) = try self.paths(prism, src, ids: ids, position: p, targets: ts)
            let applied = try applyTo.map { try session.singleToken($0, role: "--apply-to token") }
            let values = applied.isEmpty ? [] : try prism.applyToEmbeddings(maps, tokens: applied)
            let sourceInfo = try headSource(src, session: session, ids: ids, position: p)
            let frozen =
                Decomposition.frozen(prism.model.config, logit: prism.logitKind) + [
                    "per-source 1/rms of the block's input norm (blocks.*.ln1.scale / ln2.scale)"
                ]
            let out = PathsOutput(
                ids: ids, position: p, paths: paths, frozen: frozen, appliedTo: applyTo, values: values, source: sourceInfo,
                route: OutputStamp.route(session, stored: input.stored), routeText: OutputStamp.routeText(session, stored: input.stored))
            if input.output.json {
                try JSONOut.print(out.json())
            } else {
                var stdout = try StandardOutput()
                out.writeTable(to: &stdout)
            }
        }
    }

    /// The head's (through `--source`) or the neuron's path, and its frozen maps.
    func paths(
        _ prism: Prism, _ src: ActivationSource, ids: [Int], position p: Int, targets ts: [Target]
    ) throws -> (
        [PathDecomposition], [FrozenMap]
    ) {
        if let head, let j = try sourcePosition(ids.count) {
            return (
                try prism.headPath(src, position: p, layer: layer, head: head, source: j, targets: ts),
                try prism.headMaps(src, position: p, layer: layer, head: head, source: j, targets: ts)
            )
        }
        return (
            try prism.neuronPath(src, position: p, layer: layer, neuron: neuron ?? 0, targets: ts),
            try prism.neuronMaps(src, position: p, layer: layer, neuron: neuron ?? 0, targets: ts)
        )
    }

    /// `--source` as a position of a prompt of `count` tokens (negative counts from the end).
    /// - Throws: `PrismError` for a negative source before the prompt's start, named as given.
    func sourcePosition(_ count: Int) throws -> Int? {
        guard let source else { return nil }
        guard source >= -count else {
            throw PrismError("source \(source) is out of range: the prompt has \(count) tokens (-\(count)..-1 counting from the end)")
        }
        return source < 0 ? count + source : source
    }

    /// The source a head path goes through, named, with the head's attention to it (nil for a
    /// neuron's path); a source the head does not read gives a term of zero, which is a question
    /// worth a warning.
    func headSource(_ src: ActivationSource, session: PrismSession, ids: [Int], position p: Int) throws -> PathsOutput.Source? {
        guard let head, let j = try sourcePosition(ids.count) else { return nil }
        let row = try src.patternRow(layer: layer, position: p)
        let keys = row.count / max(1, session.model.heads)
        let weights = Array(row[(head * keys)..<((head + 1) * keys)])
        let a = Double(weights[j])
        if a < 1e-3, let best = weights.indices.max(by: { weights[$0] < weights[$1] }) {
            FileHandle.standardError.write(
                Data(
                    ("warning: \(ComponentName.head(layer, head)) gives source \(j) \(Display.quote(try session.text(ids[j]))) attention "
                        + "\(String(format: "%.4f", a)): its term is about 0; the head reads \(best) \(Display.quote(try session.text(ids[best]))) most "
                        + "(\(String(format: "%.3f", weights[best])))\n").utf8))
        }
        return PathsOutput.Source(position: j, id: ids[j], token: try session.text(ids[j]), attention: a)
    }
}

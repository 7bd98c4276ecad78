import ArgumentParser
import Foundation
import PrismFormats
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import Prisms

struct DecomposeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decompose",
        abstract: "Write a target logit as an exact sum of the model's parts.",
        discussion: """
            Freezes the non-linear factors (final and per-block 1/rms, attention probabilities, GELU \
            gates) at their recorded values; the logit is then an exact sum of:
              residual prism   embed + blocks.L.attn + blocks.L.mlp for every layer L
              attention prism  per head, and per head per source position
              MLP prism        per neuron
            Every output reports logit, sum and error (their difference).

            Output: a table of the largest signed contributions per kind (default), --json (one \
            object, schema in the README), --csv DIR or --npy DIR (arrays numpy loads directly).

            Examples:
              prism decompose -m models/tiny-gemma.prism --prompt "The capital of France is" --target-token " Paris"
              prism decompose -m MODEL --prompt "7+2=" --target-token 9 --target-diff 9 8 --json --detail full
            """
    )

    @OptionGroup var input: DecomposeInputOptions

    @Option(
        parsing: .unconditional,
        help: """
            How many of the largest heads, head x source pairs and neurons to list per target \
            (the residual prism, one row per layer part, is always listed whole).
            """)
    var top = 10

    @Option(help: "summary (residual terms + top-K finer terms) or full (every head, source and neuron).")
    var detail: DecompositionJSON.Detail = .summary

    @Option(
        name: .customLong("compare-f32"),
        help:
            "Also decompose with this reference model (an f32 conversion or the checkpoint directory) and report, per term kind, how far this model's terms move from it."
    )
    var compareF32: String?

    @Option(help: "Write the arrays as CSV files into this directory.")
    var csv: String?

    @Option(help: "Write the arrays as .npy files into this directory.")
    var npy: String?

    @Flag(help: "Replace the files an earlier run wrote in the --csv/--npy directory (only those: a directory holding anything else is refused).")
    var force = false

    func validate() throws {
        if top < 0 || top > CLI.maxCount { throw ValidationError("--top must be between 0 and \(CLI.maxCount)") }
        if detail == .full && !input.output.json {
            throw ValidationError("--detail full applies to --json (the table lists the --top largest terms; --csv and --npy always hold every term)")
        }
    }

    func run() throws {
        try input.run(checking: checkOutputs) { session in
            // The decomposition and its output are planned with the forward pass.
            let (source, ids, p, options, logits) = try input.activations(session, lastPositionOnly: true) { p in
                DecompositionJSON.outputBytes(
                    heldBytes: Decomposition.heldBytes(targets: input.targets.count, position: p, config: session.model.config),
                    detail: npy != nil || csv != nil ? .full : detail)
            }
            let (d, ts) = try input.targets.decompose(session, source, position: p, prompt: ids, options: options)
            let pieces = try session.texts(ids)
            let ranks = logits.map(LogitRanks.init)
            let top1Token = try ranks?.top1.map { try session.text($0.id) }
            try input.targets.warnTwins(session, ranks: ranks)
            try writeFiles(d, session: session)
            let faithfulness = try compareF32.map { try compare(d, reference: $0, session: session, ids: Array(ids[...p]), targets: ts) }
            try write(d, session: session, pieces: pieces, ranks: ranks, top1Token: top1Token, faithfulness: faithfulness)
        }
    }

    /// The inputs no output may replace (the reference model too), and the --csv/--npy
    /// directories checked before any work.
    var inputs: [String] { input.inputs + (compareF32.map { [$0] } ?? []) }

    func checkOutputs() throws {
        for dir in [npy, csv].compactMap({ $0 }) { try Outputs.checkSet(dir, force: force, inputs: inputs) }
        if let npy, npy == csv { throw PrismError("--npy and --csv name the same directory \(npy); give each its own") }
    }

    /// `--npy` and `--csv`: the arrays as files.
    func writeFiles(_ d: Decomposition, session: PrismSession) throws {
        guard npy != nil || csv != nil else { return }
        let context = try DecompositionFiles.Context(session: session, d: d, stored: input.stored)
        if let dir = npy { try DecompositionFiles.writeNPY(d, context, dir: dir, force: force, inputs: inputs) }
        if let dir = csv { try DecompositionFiles.writeCSV(d, context, dir: dir, force: force, inputs: inputs) }
    }

    /// The JSON object, or the table (unless the arrays went to files instead); with
    /// `--compare-f32`, its rows too (under "compare_f32", or as a second table).
    func write(
        _ d: Decomposition, session: PrismSession, pieces: [String]?, ranks: LogitRanks?, top1Token: String?,
        faithfulness: (rows: [Faithfulness.Row], reference: String)?
    ) throws {
        if input.output.json {
            var obj = DecompositionJSON.object(d, pieces: pieces, detail: detail, top: top)
            if let ranks { DecompositionJSON.addRanks(&obj, ranks: ranks, top1Token: top1Token) }
            if let faithfulness { obj["compare_f32"] = FaithfulnessOutput.json(faithfulness.rows) }
            OutputStamp.stamp(&obj, session, stored: input.stored)
            try JSONOut.print(obj)
            return
        }
        var out = try StandardOutput()
        let route = OutputStamp.routeText(session, stored: input.stored)
        if npy == nil && csv == nil {
            DecompositionTable.write(d, pieces: pieces, top: top, ranks: ranks, top1Token: top1Token, route: route, to: &out)
        }
        if let faithfulness {
            if npy == nil && csv == nil { Swift.print("", to: &out) }
            FaithfulnessOutput.writeTable(faithfulness.rows, reference: faithfulness.reference, targets: d.targets.count, routeText: route, to: &out)
        }
    }

    /// `--compare-f32`: decomposes `ids` again with the reference model (fp32 activations) and
    /// returns, per term kind, how far `d`'s terms are from its.
    func compare(
        _ d: Decomposition, reference refPath: String, session: PrismSession, ids: [Int], targets ts: [Target]
    ) throws -> (rows: [Faithfulness.Row], reference: String) {
        let ref = try LoadedModel.open(refPath)
        guard ref.model.config.vocabSize == session.model.vocab, ref.model.config.hiddenSize == session.model.d else {
            throw PrismError("\(refPath) is not the same architecture as \(session.loaded.path)")
        }
        var refOptions = RunOptions(route: .exact)
        refOptions.threads = session.threads
        let (refSource, _) = try ref.model.record(ids, options: refOptions)
        var refPrism = Prism.once(ref.model)
        refPrism.logitKind = input.targets.logitKind
        let refD = try refPrism.decompose(refSource, position: d.position, targets: ts)
        return (Faithfulness.compare(d, against: refD), refPath)
    }
}

extension DecompositionJSON.Detail: ExpressibleByArgument {}

import ArgumentParser
import Foundation
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import Prisms

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Run the model on a prompt and print its next-token logits.",
        discussion: """
            Prints the top tokens at the last position. With --json, one object:
              {"prism_version": .., "route": "int8"|"exact", "ids": [...], "top": [{"id": .., "logit": ..}, ...], "logits": [[...], ...]}
            where "logits" (one row per position, full vocabulary) appears only with --full. \
            The last position is computed as `prism decompose` computes the position it decomposes \
            (on the int8 route, W_O and W_down take fp32 activations there), so both print the same \
            logits; `generate` takes the int8 route at every position. \
            NaN logits (from NaN weights) are not ranked: the output says how many there are \
            ("nan_logits": N in JSON, where NaN and inf are the strings "NaN", "Infinity", "-Infinity").

            Example:
              prism logits -m Tests/Fixtures/tiny-f32 --ids 2,17,42 --top 5
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(parsing: .unconditional, help: "How many top tokens to list (at the last position).")
    var top = 10

    @Flag(help: "Also output every position's full-vocabulary logits.")
    var full = false

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be >= 0") }
        if full && !output.json { throw ValidationError("--full applies to --json (the table lists the --top tokens of the last position)") }
    }

    func run() throws {
        try model.run(runtime) { session in
            let ids = try prompt.tokens(for: session)
            let m = session.model
            let wanted = full ? Array(ids.indices) : [ids.count - 1]
            let options = try session.plan(tokens: ids.count, logitRows: wanted.count)
            let cache = m.makeCache(sequences: 1, capacity: ids.count)
            // The last position as `decompose` computes it (W_O and W_down on fp32 activations
            // there), so the two commands print the same logits.
            let logits = try m.forward([ids], cache: cache, logitsAt: [wanted], decomposedAt: [ids.count - 1], options: options)[0]
            guard let last = logits.last else { throw PrismError("no logits computed") }
            try write(session, ids: ids, logits: logits, last: last)
        }
    }

    /// The top tokens of the last position (and every row with `--full`) as JSON or a table.
    func write(_ session: PrismSession, ids: [Int], logits: [[Float]], last: [Float]) throws {
        let best = TopK.largest(last, k: top)
        let nans = TopK.nanCount(last[...])
        if output.json {
            // Each token as its id and its text (see PrismSession.text).
            let texts = try best.map { try session.text($0.id) }
            try JSONOut.print(
                LogitsOutput.json(
                    ids: ids, top: best, texts: texts, nanCount: nans, logits: full ? logits : nil, route: OutputStamp.route(session)))
        } else {
            // Read before anything is printed; from the id -> piece table when ids were given.
            let pieces = try best.map { try session.hasTokenizer ? session.piece($0.id) : nil }
            var out = try StandardOutput()
            LogitsOutput.writeTable(tokens: ids.count, top: best, pieces: pieces, nanCount: nans, vocabulary: last.count, to: &out)
        }
    }
}

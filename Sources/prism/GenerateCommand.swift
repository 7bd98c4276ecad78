import ArgumentParser
import Foundation
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import Prisms

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Greedy generation with a KV cache: a sanity check that the model runs.",
        discussion: """
            Runs the prompt once (prefill), then one token at a time attending to the cached keys \
            and values, always taking the most likely token; stops at <eos> or --max-tokens.
              prism generate -m models/tiny-gemma.prism --prompt "The capital of France is" --max-tokens 5
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var output: OutputOptions

    @Option(parsing: .unconditional, help: "Most tokens to generate.")
    var maxTokens = 16

    func validate() throws {
        if maxTokens < 1 || maxTokens > CLI.maxCount { throw ValidationError("--max-tokens must be between 1 and \(CLI.maxCount)") }
    }

    func run() throws {
        try model.run(runtime) { session in
            let ids = try prompt.tokens(for: session)
            let options = try plan(session, ids: ids)
            let tokenizer = session.hasTokenizer ? try session.tokenizer() : nil
            let eos = tokenizer?.eosId ?? session.model.config.eosTokenId
            let (generated, stop) = try generate(session, ids: ids, options: options, eos: eos)
            let text = try tokenizer?.decode(generated)
            if output.json {
                var obj: [String: Any] = ["ids": ids, "generated": generated, "stopped": stop]
                if let text { obj["text"] = text }
                OutputStamp.stamp(&obj, session)
                try JSONOut.print(obj)
            } else {
                print(text ?? generated.map(String.init).joined(separator: ","))
            }
        }
    }

    /// The prefill's run options.
    /// - Throws: `PrismError` for a prompt longer than the context, or a budget too small.
    func plan(_ session: PrismSession, ids: [Int]) throws -> RunOptions {
        let limit = session.model.config.maxPositionEmbeddings
        guard ids.count <= limit else { throw PrismError("prompt of \(ids.count) tokens exceeds max_position_embeddings \(limit)") }
        return try session.plan(tokens: ids.count, logitRows: 1)
    }

    /// Greedy decoding after `ids` with a KV cache, until `eos`, `--max-tokens` or a full context.
    /// - Returns: the generated ids and why it stopped (`eos`, `max_tokens`, `context_full`).
    /// - Throws: `PrismError` when every logit is NaN.
    func generate(_ session: PrismSession, ids: [Int], options: RunOptions, eos: Int?) throws -> (generated: [Int], stop: String) {
        let m = session.model
        let capacity = min(m.config.maxPositionEmbeddings, ids.count + maxTokens)
        let cache = m.makeCache(sequences: 1, capacity: capacity)
        var logits = try m.forward([ids], cache: cache, logitsAt: [[ids.count - 1]], options: options)[0][0]
        var generated: [Int] = []
        var stop = "max_tokens"
        while generated.count < maxTokens {
            // The largest non-NaN logit (NaN is never ranked); none at all is an error, not token 0.
            guard let next = TopK.largest(logits[...], k: 1).first?.id else {
                throw PrismError("every logit is NaN after \(ids.count + generated.count) tokens (NaN weights?): no next token to pick")
            }
            generated.append(next)
            if next == eos { stop = "eos"; break }
            if cache.lengths[0] >= capacity {
                if generated.count < maxTokens { stop = "context_full" }
                break
            }
            logits = try m.forward([[next]], cache: cache, logitsAt: [[0]], options: options)[0][0]
        }
        if stop == "context_full" {
            FileHandle.standardError.write(
                Data(
                    "note: stopped after \(generated.count) of --max-tokens \(maxTokens): the prompt and the generated tokens fill the model's context (max_position_embeddings \(m.config.maxPositionEmbeddings))\n"
                        .utf8))
        }
        return (generated, stop)
    }
}

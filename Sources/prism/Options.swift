import ArgumentParser
import Foundation
import PrismModel
import PrismSupport

/// `-m MODEL`, shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .customLong("model")], help: "A converted .prism file, or a Hugging Face model directory (config.json, *.safetensors, tokenizer.json).")
    var model: String

    func load() throws -> LoadedModel { try LoadedModel.open(model) }
}

/// `--prompt TEXT` or `--ids 2,651,6037`: exactly one.
struct PromptOptions: ParsableArguments {
    @Option(help: "The prompt as text (tokenized with the model's tokenizer, <bos> added).")
    var prompt: String?

    @Option(help: "The prompt as comma-separated token ids, e.g. 2,651,6037.")
    var ids: String?

    func validate() throws {
        if (prompt == nil) == (ids == nil) { throw ValidationError("give exactly one of --prompt or --ids") }
        if let ids { _ = try Self.parseIds(ids) }
    }

    static func parseIds(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, !(parts.count == 1 && parts[0].isEmpty) else { throw ValidationError("--ids is empty") }
        return try parts.map { p in
            guard let v = Int(p), v >= 0 else { throw ValidationError("--ids: '\(p)' is not a non-negative integer") }
            return v
        }
    }

    /// The token ids of the prompt, tokenizing text with the model's tokenizer.
    func tokens(for loaded: LoadedModel) throws -> [Int] {
        if let ids { return try Self.parseIds(ids) }
        let tokenizer = try Tokenizers.tokenizer(for: loaded)
        let ids = tokenizer.encode(prompt ?? "")
        return ids
    }
}

/// `--json`
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false
}


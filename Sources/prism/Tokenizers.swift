import PrismModel
import PrismSupport
import PrismTokenizer

enum Tokenizers {
    /// The tokenizer shipped with the model (tokenizer.json in the directory, or embedded in a converted file).
    static func tokenizer(for loaded: LoadedModel) throws -> GemmaTokenizer {
        guard let bytes = loaded.tokenizerJSON else {
            throw PrismError("\(loaded.path) has no tokenizer.json; give token ids with --ids")
        }
        return try GemmaTokenizer(jsonBytes: bytes)
    }
}

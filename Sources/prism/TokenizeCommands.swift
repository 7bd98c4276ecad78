import ArgumentParser
import Foundation
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import PrismTokenizer

/// `-m MODEL` for commands that only need the tokenizer: a model directory, a converted
/// file, or a tokenizer.json itself. Weights are not bound.
struct TokenizerSource: ParsableArguments {
    @Option(name: [.short, .customLong("model")], help: "A .prism file, a model directory, or a tokenizer.json.")
    var model: String

    func load() throws -> GemmaTokenizer {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir) else { throw PrismError("model not found: \(model)") }
        if isDir.boolValue {
            let p = model + "/tokenizer.json"
            guard FileManager.default.fileExists(atPath: p) else { throw PrismError("\(model) has no tokenizer.json") }
            return try GemmaTokenizer(path: p)
        }
        if model.hasSuffix(".json") { return try GemmaTokenizer(path: model) }
        return try PrismSession(path: model).tokenizer()
    }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Split text into token ids exactly as the model's tokenizer.json does.",
        discussion: """
            <bos> is added first, as the tokenizer's post-processor says (--no-bos to leave it out). \
            Without --json: one line per token, id and piece. With --json: {"ids": [...], "prism_version": ..}.

            Example:
              prism tokenize -m models/tiny-gemma.prism -- "The capital of France is"
            """
    )

    @OptionGroup var source: TokenizerSource

    @Flag(help: "Do not add <bos>.")
    var noBos = false

    @OptionGroup var output: OutputOptions

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        try CLI.guarded {
            let tok = try source.load()
            let ids = tok.encode(text, addBos: !noBos)
            if output.json {
                try JSONOut.print(["ids": ids, "prism_version": PrismVersion.string])
            } else {
                for id in ids { print("\(id)\t\(Display.quote(tok.piece(for: id) ?? "?"))") }
            }
        }
    }
}

struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detokenize",
        abstract: "Turn comma-separated token ids back into text.",
        discussion: """
            Special tokens such as <bos> are dropped from the text; byte tokens <0xNN> are reassembled \
            into UTF-8 (invalid sequences become U+FFFD). With --json: {"text": "...", "prism_version": ..}.

            Example:
              prism detokenize -m models/tiny-gemma.prism 2,343,339,341
            """
    )

    @OptionGroup var source: TokenizerSource
    @OptionGroup var output: OutputOptions

    @Argument(help: "Token ids, comma-separated (e.g. 2,651,6037).")
    var ids: String

    // Checked while parsing, so a bad list is a usage error of this command (it was thrown from
    // run(), and the usage line named `prism <subcommand>`).
    func validate() throws { _ = try PromptOptions.parseIds(ids, name: "token ids") }

    func run() throws {
        let parsed = try PromptOptions.parseIds(ids)
        try CLI.guarded {
            let text = try source.load().decode(parsed, skipSpecialTokens: true)
            if output.json { try JSONOut.print(["text": text, "prism_version": PrismVersion.string]) } else { print(text) }
        }
    }
}

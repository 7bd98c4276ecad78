import ArgumentParser
import PrismModel
import PrismSupport
import PrismTokenizer
import Prisms

/// `--target ID`, `--target-token STR`, `--target-diff A B`: what to decompose.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("target"), help: "A target token id (repeatable).")
    var targetIds: [Int] = []

    @Option(name: .customLong("target-token"), help: ArgumentHelp("A target token as text, e.g. \" Paris\" (repeatable); it must be one token.", valueName: "text"))
    var targetTokens: [String] = []

    @Option(name: .customLong("target-diff"), parsing: .upToNextOption,
            help: ArgumentHelp("A logit difference: two tokens (text or #id), e.g. --target-diff \" Paris\" \" London\" (repeatable).", valueName: "a b"))
    var targetDiffs: [String] = []

    func validate() throws {
        if targetIds.isEmpty && targetTokens.isEmpty && targetDiffs.isEmpty {
            throw ValidationError("give at least one --target, --target-token or --target-diff")
        }
        if targetDiffs.count % 2 != 0 { throw ValidationError("--target-diff takes two tokens each time") }
    }

    /// How many targets were given (before resolving them).
    var count: Int { targetIds.count + targetTokens.count + targetDiffs.count / 2 }

    func resolve(_ loaded: LoadedModel) throws -> [Target] {
        try Self.resolve(loaded, ids: targetIds, tokens: targetTokens, diffs: targetDiffs)
    }

    /// Targets in the order given: ids, then texts, then differences.
    static func resolve(_ loaded: LoadedModel, ids targetIds: [Int], tokens targetTokens: [String], diffs targetDiffs: [String]) throws -> [Target] {
        var out: [Target] = []
        // Labels use the tokenizer when the model has one; only text targets require it.
        let tokenizer = try? Tokenizers.tokenizer(for: loaded)
        func label(_ id: Int) -> String { tokenizer?.piece(for: id).map(Display.quote) ?? "#\(id)" }
        for id in targetIds {
            guard id >= 0, id < loaded.model.vocab else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(loaded.model.vocab))") }
            out.append(.token(id, label: label(id)))
        }
        for text in targetTokens {
            let id = try Self.single(text, tokenizer)
            out.append(.token(id, label: label(id)))
        }
        var i = 0
        while i + 1 < targetDiffs.count {
            let a = try Self.single(targetDiffs[i], tokenizer), b = try Self.single(targetDiffs[i + 1], tokenizer)
            out.append(.difference(a, b, label: "\(label(a)) - \(label(b))"))
            i += 2
        }
        return out
    }

    /// `#123` is an id; anything else is text that must tokenize to exactly one token.
    static func single(_ text: String, _ tokenizer: GemmaTokenizer?) throws -> Int {
        if text.hasPrefix("#"), let id = Int(text.dropFirst()) { return id }
        guard let tokenizer else { throw PrismError("target '\(text)' is text but the model has no tokenizer; give its id as #ID") }
        let ids = tokenizer.encode(text, addBos: false)
        guard ids.count == 1 else {
            let pieces = ids.map { tokenizer.piece(for: $0) ?? "?" }.joined(separator: "|")
            throw PrismError("target '\(text)' is \(ids.count) tokens (\(pieces)), not one; give a single token or its id")
        }
        return ids[0]
    }
}

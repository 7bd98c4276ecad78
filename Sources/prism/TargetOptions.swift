import ArgumentParser
import PrismModel
import PrismSession
import PrismSupport
import PrismTokenizer
import Prisms

/// `--target ID`, `--target-token STR`, `--target-diff A B`: what to decompose.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("target"), help: "A target token id (repeatable).")
    var targetIds: [Int] = []

    @Option(
        name: .customLong("target-token"), help: ArgumentHelp("A target token as text, e.g. \" Paris\" (repeatable); it must be one token.", valueName: "text"))
    var targetTokens: [String] = []

    @Option(
        name: .customLong("target-diff"), parsing: .upToNextOption,
        help: ArgumentHelp("A logit difference: two tokens (text or #id), e.g. --target-diff \" Paris\" \" London\" (repeatable).", valueName: "a b"))
    var targetDiffs: [String] = []

    @Flag(
        name: .customLong("pre-softcap"),
        help: "On a model that soft-caps its logits (Gemma 2), decompose the logit before the cap, z, instead of the capped c*tanh(z/c) the model outputs.")
    var preSoftcap = false

    var logitKind: LogitKind { preSoftcap ? .preSoftcap : .capped }

    func validate() throws {
        if targetIds.isEmpty && targetTokens.isEmpty && targetDiffs.isEmpty {
            throw ValidationError("give at least one --target, --target-token or --target-diff")
        }
        if targetDiffs.count % 2 != 0 { throw ValidationError("--target-diff takes two tokens each time") }
    }

    /// How many targets were given (before resolving them).
    var count: Int { targetIds.count + targetTokens.count + targetDiffs.count / 2 }

    /// Targets in the order given: ids, then texts, then differences.
    func resolve(_ session: PrismSession) throws -> [Target] {
        try session.targets(ids: targetIds, tokens: targetTokens, diffs: Self.pairs(targetDiffs), style: .quoted)
    }

    /// `--target-diff A B --target-diff C D` as pairs.
    static func pairs(_ flat: [String]) -> [(String, String)] {
        stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }
}

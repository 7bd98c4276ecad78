import ArgumentParser
import Foundation
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import PrismTokenizer
import Prisms

/// `--target ID`, `--target-token STR`, `--target-diff A B`: what to decompose.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("target"), parsing: .unconditionalSingleValue, help: "A target token id (repeatable).")
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

    /// Targets in command-line order (`--target-token A --target 5` decomposes A first).
    func resolve(_ session: PrismSession) throws -> [Target] {
        try Self.checkPreSoftcap(preSoftcap, session)
        return try Self.resolve(session, ids: targetIds, tokens: targetTokens, diffs: targetDiffs)
    }

    /// `--pre-softcap` on a model without a logit soft-cap would change nothing: refused, as
    /// every option that does nothing is.
    static func checkPreSoftcap(_ asked: Bool, _ session: PrismSession) throws {
        guard asked, session.model.config.finalLogitSoftcapping == nil else { return }
        throw PrismError("--pre-softcap: this model does not soft-cap its logits (Gemma 2 does); leave it out")
    }

    /// The targets resolved, and position `position` of `source` decomposed into them by a prism
    /// that keeps no pull-backs (one prompt), on the logit `--pre-softcap` names.
    /// - Throws: `PrismError` for a target that does not resolve, or a source that lacks an activation.
    /// - Parameter prompt: the whole prompt's ids. The forward pass ran only up to `position`
    ///   (later tokens cannot change it), so the source holds that prefix; the decomposition
    ///   reports the whole prompt, as the user gave it.
    func decompose(
        _ session: PrismSession, _ source: ActivationSource, position: Int, prompt: [Int], options: RunOptions
    ) throws -> (
        decomposition: Decomposition, targets: [Target]
    ) {
        let ts = try resolve(session)
        var prism = Prism.once(session.model)
        prism.logitKind = logitKind
        var d = try prism.decompose(source, position: position, targets: ts, options: options)
        if prompt.count > d.ids.count, Array(prompt.prefix(d.ids.count)) == d.ids { d.ids = prompt }
        return (d, ts)
    }

    /// A warning on stderr for each `--target-token` whose text the model ranks below a twin
    /// spelling of it (`TargetRanking.twinWarning`); nothing without the position's logits.
    func warnTwins(_ session: PrismSession, ranks: LogitRanks?) throws {
        guard let ranks else { return }
        for text in targetTokens {
            if let w = try TargetRanking.twinWarning(text, session: session, ranks: ranks) {
                FileHandle.standardError.write(Data((w + "\n").utf8))
            }
        }
    }

    /// `session.targets` (ids, then texts, then differences) put back in the order the options
    /// came in on the command line, so every output lists them as the user wrote them.
    static func resolve(
        _ session: PrismSession, ids: [Int], tokens: [String], diffs: [String], arguments: [String] = CommandLine.arguments
    ) throws -> [Target] {
        let grouped = try session.targets(ids: ids, tokens: tokens, diffs: pairs(diffs), style: .quoted)
        let order = commandLineOrder(arguments, ids: ids.count, tokens: tokens.count, diffs: diffs.count / 2)
        return order.map { grouped[$0] }
    }

    /// Indices into [ids..., tokens..., diffs...] in the order their options appear in
    /// `arguments` (before any `--`); that grouped order itself when the count of options seen
    /// differs from what was parsed (a caller that did not parse `arguments`).
    static func commandLineOrder(_ arguments: [String], ids: Int, tokens: Int, diffs: Int) -> [Int] {
        var kinds: [Int] = []  // 0 id, 1 token, 2 difference
        for a in arguments {
            if a == "--" { break }
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            switch name {
            case "--target": kinds.append(0)
            case "--target-token": kinds.append(1)
            case "--target-diff": kinds.append(2)
            default: continue
            }
        }
        let counts = [ids, tokens, diffs]
        guard (0..<3).allSatisfy({ k in kinds.filter { $0 == k }.count == counts[k] }) else { return Array(0..<(ids + tokens + diffs)) }
        let start = [0, ids, ids + tokens]
        var next = start
        return kinds.map { k in
            defer { next[k] += 1 }
            return next[k]
        }
    }

    /// `--target-diff A B --target-diff C D` as pairs.
    static func pairs(_ flat: [String]) -> [(String, String)] {
        stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }
}

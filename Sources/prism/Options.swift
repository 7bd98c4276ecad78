import ArgumentParser
import Foundation
import PrismKernels
import PrismModel
import PrismSession
import PrismSupport
import Prisms

/// `-m MODEL`, shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(
        name: [.short, .customLong("model")], help: "A converted .prism file, or a Hugging Face model directory (config.json, *.safetensors, tokenizer.json).")
    var model: String

    func load() throws -> LoadedModel { try LoadedModel.open(model) }

    /// The model opened for this command's runs, under its budget and route.
    /// The model opened under the runtime options: budget, route, threads (OpenBLAS's pool,
    /// process-wide, capped to the same count).
    func session(_ runtime: RuntimeOptions) throws -> PrismSession {
        let session = PrismSession(loaded: try load(), budget: runtime.budget, route: runtime.route)
        session.threads = runtime.threadCount
        session.showsProgress = true
        CPUs.limitBLAS(to: runtime.threadCount)
        return session
    }

    /// Runs a model command the way they all run: `check` first (output paths, before any
    /// work), then the model opened under `runtime`, `body` with it, and `--stats` when `body`
    /// ends, also when it throws; any `PrismError` is one `error:` line (`CLI.guarded`).
    func run(_ runtime: RuntimeOptions, checking check: () throws -> Void = {}, _ body: (PrismSession) throws -> Void) throws {
        try CLI.guarded {
            try check()
            try withSession(runtime, body)
        }
    }

    /// `body` with the model opened under `runtime`, and `--stats` when it ends (also when it throws).
    /// The model's files are checked while still mapped: results computed from a model rewritten
    /// in place under the command are refused (what stdout still buffers is dropped).
    func withSession<R>(_ runtime: RuntimeOptions, _ body: (PrismSession) throws -> R) throws -> R {
        let clock = RuntimeOptions.Clock()
        let session = try session(runtime)
        defer { runtime.report(clock, session: session) }
        let result = try body(session)
        do { try session.loaded.checkUnchanged() } catch {
            discardBufferedStandardOutput()
            throw error
        }
        return result
    }
}

/// `--prompt TEXT` or `--ids 2,651,6037`: exactly one.
struct PromptOptions: ParsableArguments {
    @Option(help: "The prompt as text (tokenized with the model's tokenizer, <bos> added).")
    var prompt: String?

    @Option(parsing: .unconditional, help: "The prompt as comma-separated token ids, e.g. 2,651,6037.")
    var ids: String?

    func validate() throws {
        if prompt != nil && ids != nil { throw ValidationError("give only one of --prompt or --ids") }
        if let ids { _ = try Self.parseIds(ids) }
    }

    var isEmpty: Bool { prompt == nil && ids == nil }

    /// `name`: how the error names the ids (the option, or "token ids" for an argument).
    static func parseIds(_ text: String, name: String = "--ids") throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, !(parts.count == 1 && parts[0].isEmpty) else { throw ValidationError("\(name) is empty") }
        return try parts.map { p in
            guard let v = Int(p), v >= 0 else { throw ValidationError("\(name): '\(p)' is not a non-negative integer") }
            return v
        }
    }

    /// The token ids of the prompt, tokenizing text with the session's tokenizer.
    func tokens(for session: PrismSession) throws -> [Int] {
        try session.tokens(text: prompt, ids: try ids.map { try Self.parseIds($0) })
    }
}

/// `--json`
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false
}

/// `--position P` and `--acts RUN.acts`, shared by decompose, lens and paths.
struct PositionOptions: ParsableArguments {
    // `.unconditional`: `--position -2` takes -2 (a value that starts with a dash is not an option here).
    @Option(parsing: .unconditional, help: "Position to decompose (0-based; negative counts from the end, -1 = last).")
    var position = -1

    @Option(help: "Read activations from a store written by `prism run` instead of running the model.")
    var acts: String?
}

/// What decompose, explore and paths read: the model, the prompt (or a store), the targets,
/// the output format, the runtime and the position, in the order `--help` lists them.
struct DecomposeInputOptions: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var targets: TargetOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var at: PositionOptions

    /// The files read: the model and the store, which no output may replace.
    var inputs: [String] { [model.model] + (at.acts.map { [$0] } ?? []) }

    /// Whether the activations come from a store (`--acts`).
    var stored: Bool { at.acts != nil }

    /// `ModelOptions.run` under these runtime options.
    func run(checking check: () throws -> Void = {}, _ body: (PrismSession) throws -> Void) throws {
        try model.run(runtime, checking: check, body)
    }

    /// `ActivationInput.source` for this prompt, store and position.
    func activations(
        _ session: PrismSession, lastPositionOnly: Bool = false, extraBytes: (_ position: Int) -> Int = { _ in 0 }
    )
        throws -> (source: ActivationSource, ids: [Int], position: Int, options: RunOptions, logits: [Float]?)
    {
        try ActivationInput.source(
            session, prompt: prompt, acts: at.acts, position: at.position, lastPositionOnly: lastPositionOnly, extraBytes: extraBytes)
    }
}

/// Where the prisms' activations come from: a store written by `prism run` (`--acts`), or a
/// fresh forward pass over the prompt (only up to the decomposed position).
enum ActivationInput {
    /// Returns the source, the prompt's ids, the position resolved against them, the run's options, and
    /// the position's full-vocabulary logits (nil from a store, which keeps no logits).
    /// `lastPositionOnly`: the caller only decomposes position p (keep p's rows, not every position's).
    /// `extraBytes(p)`: what the caller allocates afterwards for position p (a lens readout, a
    /// decomposition and its output), counted in the memory plan.
    static func source(
        _ session: PrismSession, prompt: PromptOptions, acts: String?, position: Int,
        lastPositionOnly: Bool = false, extraBytes: (_ position: Int) -> Int = { _ in 0 }
    )
        throws -> (source: ActivationSource, ids: [Int], position: Int, options: RunOptions, logits: [Float]?)
    {
        if let acts {
            let stored = try StoredActivations(path: acts)
            try stored.check(against: session.loaded)
            session.storedRoute = stored.reader.index.route
            // The route was the `prism run`'s: --exact-activations cannot change stored numbers.
            if session.route == .exact, stored.reader.index.route == "int8" {
                throw PrismError(
                    "\(acts) was recorded on the int8 route: --exact-activations cannot apply to it; record it again with `prism run --exact-activations`")
            }
            if session.route == .exact, stored.reader.index.route == nil {
                FileHandle.standardError.write(
                    Data("warning: \(acts) does not record its route (an older prism wrote it): --exact-activations cannot change stored activations\n".utf8))
            }
            // No forward pass, but the prisms still read weights (the unembedding, W_O, W_down) and
            // the mapped store: plan them too, so the weights stream when the budget asks for it.
            if !prompt.isEmpty, try prompt.tokens(for: session) != stored.tokenIds {
                throw PrismError("the prompt differs from the one stored in \(acts); leave --prompt/--ids out to use the stored one")
            }
            let p = try Prism.resolve(position: position, count: stored.tokenIds.count)
            let options = try session.plan(tokens: 0, extraBytes: extraBytes(p) + stored.reader.file.size, logitRows: 1)
            return (stored, stored.tokenIds, p, options, nil)
        }
        let ids = try prompt.tokens(for: session)
        let p = try Prism.resolve(position: position, count: ids.count)
        let model = session.model
        let recorded =
            lastPositionOnly
            ? PositionRecorder.bytesPerPrompt(tokens: p + 1, config: model.config)
            : PrismSession.recordedBytes(model, tokens: p + 1)
        let options = try session.plan(tokens: p + 1, extraBytes: recorded + extraBytes(p), logitRows: 1)
        let (source, logits) =
            lastPositionOnly
            ? try model.recordLastPosition(Array(ids[...p]), options: options)
            : try model.record(Array(ids[...p]), decomposedAtLast: true, options: options)
        return (source, ids, p, options, logits)
    }
}

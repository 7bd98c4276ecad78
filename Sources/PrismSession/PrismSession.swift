import Foundation
import PrismKernels
import PrismModel
import PrismSupport
import PrismTokenizer
import Prisms

/// One model opened for a piece of work, and the pipeline every caller runs through it:
/// open -> tokenize -> resolve targets -> plan memory -> forward + record -> prisms.
/// The CLI commands, the studies, the batch runner and the bench are thin callers of it
/// (gemma.cpp's `Gemma` object; the per-call `RunOptions` are its `RuntimeConfig`).
///
/// - The model path is opened once; the tokenizer is parsed once, on first use, and only to
///   encode text: when token ids are given, labels and pieces come from its id -> piece table
///   (`TokenizerVocabulary`, read once without the merges). A corrupt one is an error, never a
///   silent fallback to `#id` labels.
/// - Targets are resolved in one place, with one wording for every error.
/// - Every forward pass is planned against the budget from each allocation's own size, and
///   runs with the options the plan gives; what the runs read is summed in `meter`.
public final class PrismSession {
    public let loaded: LoadedModel
    public var model: GemmaModel { loaded.model }
    /// The memory budget in bytes (`--max-memory`); nil: none.
    public let budget: Int?
    /// How products with int8 weights treat activations (`--exact-activations`).
    public let route: ActivationRoute
    /// How many threads split each product (`--threads`; default: the CPUs this process may
    /// use, see `CPUs`). Every `RunOptions` the session plans carries it.
    public var threads: Int = CPUs.available
    /// The route recorded in the store this session's activations were read from (`--acts`):
    /// "int8" or "exact"; nil when they were not read from a store or the store predates it.
    public var storedRoute: String?
    /// Weight bytes read by every run of this session (`--stats`).
    public let meter = RunMeter()
    /// The plan of the latest run (`--stats` says whether weights were streamed).
    public private(set) var lastPlan: MemoryPlan?
    private var parsedTokenizer: GemmaTokenizer?
    /// The id -> piece table, read instead of the tokenizer when only pieces are needed.
    private var readVocabulary: TokenizerVocabulary?
    /// Whether the model's files were read into the page cache (once, before the first run).
    private var warmed = false

    public init(loaded: LoadedModel, budget: Int? = nil, route: ActivationRoute = .int8) {
        self.loaded = loaded
        self.budget = budget
        self.route = route
    }

    /// Opens a Hugging Face directory or a converted `.prism` file.
    /// - Throws: `PrismError` when the path is missing or not a model.
    public convenience init(path: String, budget: Int? = nil, route: ActivationRoute = .int8) throws {
        self.init(loaded: try LoadedModel.open(path), budget: budget, route: route)
    }

    // MARK: tokens

    /// Whether the model ships a tokenizer.
    public var hasTokenizer: Bool { loaded.tokenizerJSON != nil }

    /// The model's tokenizer, parsed on first use and kept for the session.
    /// - Throws: `PrismError` when the model has none, or when it is malformed.
    public func tokenizer() throws -> GemmaTokenizer {
        if let parsedTokenizer { return parsedTokenizer }
        guard let bytes = loaded.tokenizerJSON else {
            throw PrismError("\(loaded.path) has no tokenizer.json; give token ids with --ids")
        }
        let t = try GemmaTokenizer(jsonBytes: bytes)
        parsedTokenizer = t
        return t
    }

    /// The prompt's token ids: `ids` as given, or `text` tokenized (with `<bos>`).
    /// - Throws: `PrismError` for an empty prompt, or text without a tokenizer.
    public func tokens(text: String?, ids: [Int]?) throws -> [Int] {
        if let ids { return ids }
        guard let text else { throw PrismError("give the prompt with --prompt TEXT or --ids 2,651,...") }
        if text.isEmpty { throw PrismError("empty prompt: give some text with --prompt") }
        return try tokenizer().encode(text)
    }

    /// The SentencePiece piece of `id` (nil for an id the vocabulary lacks), as
    /// `GemmaTokenizer.piece(for:)` gives it: from the tokenizer if it has been parsed, else from
    /// the id -> piece table, read once (about a sixth of the tokenizer's parse on a 256k
    /// vocabulary, which a command given token ids then never pays).
    /// - Throws: `PrismError` when the model has no tokenizer, or when it is malformed.
    public func piece(_ id: Int) throws -> String? {
        if let parsedTokenizer { return parsedTokenizer.piece(for: id) }
        if let readVocabulary { return readVocabulary.piece(for: id) }
        guard let bytes = loaded.tokenizerJSON else {
            throw PrismError("\(loaded.path) has no tokenizer.json; give token ids with --ids")
        }
        let v = try TokenizerVocabulary(jsonBytes: bytes)
        readVocabulary = v
        return v.piece(for: id)
    }

    /// The SentencePiece piece of every id (`?` for an id the vocabulary lacks), or nil when the
    /// model has no tokenizer.
    /// - Throws: `PrismError` when the model's tokenizer is malformed.
    public func pieces(_ ids: [Int]) throws -> [String]? {
        guard hasTokenizer else { return nil }
        return try ids.map { try piece($0) ?? "?" }
    }

    /// A token's text, as every JSON and CSV output writes it (with its id beside it): the decoded
    /// text, not the SentencePiece piece: `▁` is a space, a byte token of a printable or
    /// whitespace ASCII byte is that character (`<0x0A>` is "\n"); a byte token of a multibyte
    /// sequence keeps its `<0xNN>` spelling (alone it is no text). `#id` without a tokenizer.
    public func text(_ id: Int) throws -> String {
        guard hasTokenizer, let piece = try piece(id) else { return "#\(id)" }
        if piece.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">"), let byte = UInt8(piece.dropFirst(3).prefix(2), radix: 16), byte < 0x80 {
            return String(UnicodeScalar(byte))
        }
        return piece.replacingOccurrences(of: "\u{2581}", with: " ")
    }

    /// `text` of each id (nil without a tokenizer).
    public func texts(_ ids: [Int]) throws -> [String]? {
        guard hasTokenizer else { return nil }
        return try ids.map { try text($0) }
    }

    // MARK: targets

    /// How a target's label spells its tokens.
    public enum LabelStyle: Sendable {
        /// The piece as the command line shows it: quoted, `▁` as a space (`" Paris"`).
        case quoted
        /// The raw SentencePiece piece (`▁Paris`).
        case piece
    }

    /// `#123` is an id; any other text must tokenize to exactly one token.
    /// - Parameter role: what the token is, for the error (`target`, `--apply-to token`).
    /// - Throws: `PrismError` naming the pieces when it is several tokens, or when an id is
    ///   outside the vocabulary.
    public func singleToken(_ text: String, role: String = "target") throws -> Int {
        if text.hasPrefix("#"), let id = Int(text.dropFirst()) { return try checkedId(id) }
        guard hasTokenizer else { throw PrismError("\(role) '\(text)' is text but the model has no tokenizer; give its id as #ID") }
        let t = try tokenizer()
        let ids = t.encode(text, addBos: false)
        guard ids.count == 1 else {
            let pieces = ids.map { t.piece(for: $0) ?? "?" }.joined(separator: "|")
            throw PrismError("\(role) '\(text)' is \(ids.count) tokens (\(pieces)), not one; give a single token or its id")
        }
        return ids[0]
    }

    func checkedId(_ id: Int) throws -> Int {
        guard id >= 0, id < model.vocab else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(model.vocab))") }
        return id
    }

    /// A token's label in `style` (`#id` when the model has no tokenizer).
    /// - Throws: `PrismError` when the model's tokenizer is malformed.
    public func label(_ id: Int, style: LabelStyle) throws -> String {
        guard hasTokenizer, let piece = try piece(id) else { return "#\(id)" }
        switch style {
        case .quoted: return Display.quote(piece)
        case .piece: return piece
        }
    }

    /// Targets in the order given: ids, then texts, then differences (pairs of text or `#id`).
    /// - Throws: `PrismError` for an id outside the vocabulary or a text that is not one token.
    public func targets(ids: [Int], tokens: [String], diffs: [(String, String)], style: LabelStyle) throws -> [Target] {
        var out: [Target] = []
        for id in ids { out.append(.token(try checkedId(id), label: try label(id, style: style))) }
        for text in tokens {
            let id = try singleToken(text)
            out.append(.token(id, label: try label(id, style: style)))
        }
        for (a, b) in diffs {
            let x = try singleToken(a), y = try singleToken(b)
            out.append(.difference(x, y, label: "\(try label(x, style: style)) - \(try label(y, style: style))"))
        }
        return out
    }

    // MARK: running

    /// Memory this session holds beyond `MemoryPlan.baseline` when it plans a run: the model's
    /// tokenizer.json, copied when the model opened, plus its parsed form once text has been
    /// encoded (`assumeParsed`: count it anyway, for plans that must not depend on which records
    /// came first). A fixed multiple of the JSON's size, so a plan is the same in every process:
    /// gemma-3-270m's 13.8 MiB tokenizer held 14.4 MiB of heap as read and 52.9 MiB once parsed
    /// (`RssAnon` at the first plan, against a model without one); the 100 MiB budgets that
    /// ignored it peaked at 116-159 MiB.
    public func heldBytes(assumeParsed: Bool = false) -> Int {
        let json = loaded.tokenizerJSON?.count ?? 0
        return json + (parsedTokenizer != nil || assumeParsed ? 3 * json : 0)
    }

    /// Plans a forward pass of `tokens` tokens in flight that keeps `extraBytes` besides (recorded
    /// activations, decompositions, caches) and `logitRows` rows of full-vocabulary logits.
    /// - Returns: the options the run must use (streaming as the plan decided).
    /// - Throws: `PrismError` naming the minimum when the budget is too small.
    /// `cacheTokens`: the KV cache's size in tokens when it is not `tokens` (several prompts: it is
    /// allocated as prompts x the longest prompt).
    /// Whether forward passes planned here show a delayed progress bar on a terminal (commands
    /// with a progress of their own, batch and study, leave it off).
    public var showsProgress = false

    /// `heldBytes`: what the process holds besides (default: `heldBytes()`, the tokenizer as it is now).
    public func plan(tokens: Int, cacheTokens: Int? = nil, extraBytes: Int = 0, logitRows: Int = 0, heldBytes: Int? = nil) throws -> RunOptions {
        let plan = try MemoryPlan.make(
            model: model, budget: budget, tokens: tokens, cacheTokens: cacheTokens,
            extraBytes: extraBytes, logitRows: logitRows, heldBytes: heldBytes ?? self.heldBytes())
        if !warmed {
            model.weights.warmPageCache()
            warmed = true
        }
        // The plan counts the process as its baseline plus what it plans, so memory the allocator
        // kept from earlier passes (a previous batch chunk's buffers, freed but resident) goes back first.
        if budget != nil { Heap.releaseFree() }
        lastPlan = plan
        var options = RunOptions(plan: plan, route: route, meter: meter)
        options.threads = threads
        if showsProgress {
            // A forward pass still running after 2 s shows its layers on a terminal (gemma-2b under
            // a budget, long prompts), after 10 s in a log (a 20,000-token prompt on gemma-3-270m
            // ran for minutes with no word); quick commands print nothing.
            let progress = Progress.delayed(
                label: "forward", total: model.config.numHiddenLayers, unit: "layers", terminalDelay: 2, logDelay: 10)
            options.onLayer = { done, total in
                if done == total { progress.finish() } else { progress.update(done) }
            }
        }
        return options
    }

    /// Runs one prompt (up to and including `position`) and keeps what decomposing `position`
    /// needs: only that position's rows when `lastPositionOnly` (what `decompose` reads), else
    /// every position exact (paths and lenses at any position).
    /// - Returns: the activations and the logits of the last position.
    public func record(_ ids: [Int], lastPositionOnly: Bool, extraBytes: Int = 0) throws -> (source: ActivationSource, lastLogits: [Float]) {
        let options = try plan(tokens: ids.count, extraBytes: Self.recordedBytes(model, tokens: ids.count) + extraBytes, logitRows: 1)
        return lastPositionOnly
            ? try model.recordLastPosition(ids, options: options)
            : try model.record(ids, decomposedAtLast: true, options: options)
    }

    /// Activations recorded for the prisms when decomposing a prompt of `tokens` tokens.
    public static func recordedBytes(_ model: GemmaModel, tokens: Int) -> Int {
        tokens * MemoryPlan.recordedPerToken(model.config, tokens: tokens)
    }

    /// One `--stats` line: time, peak RSS, weight bytes read, streaming, budget, threads.
    public func statsLine(seconds: Double) -> String {
        var line = "stats: \(String(format2: seconds)) s, peak RSS \(ByteSize.format(ResourceUsage.peakRSS))"
        line += ", weight bytes read \(ByteSize.format(meter.weightBytesRead))"
        if let plan = lastPlan, plan.streamWeights {
            line += " (streamed; \(plan.residentLayers) of \(model.config.numHiddenLayers) layers kept resident)"
        }
        if let budget { line += ", budget \(ByteSize.format(budget))" }
        line += ", threads \(threads)"
        return line
    }
}

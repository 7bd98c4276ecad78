import Foundation
import PrismFormats
import PrismModel
import PrismPlots
import PrismSession
import PrismSupport
import PrismTokenizer
import Prisms

/// What every study needs: the session (model, tokenizer, budget), single-token lookups, and
/// one prism whose pull-backs serve every prompt of the study.
public struct StudyContext {
    public let session: PrismSession
    public let tokenizer: GemmaTokenizer
    public var loaded: LoadedModel { session.loaded }
    public var model: GemmaModel { session.model }
    /// One prism for the study: the target tokens' pull-backs are computed once for all prompts.
    public let prism: Prism
    /// The memory budget in bytes (`--max-memory`) each forward pass is planned against; nil: none.
    public var budget: Int? { session.budget }
    /// The route the study's prompts run on ("int8" or "exact"), for its outputs.
    public var routeName: String { RunOptions(route: session.route).routeName(for: session.model) }

    /// - Throws: `PrismError` when the model has no tokenizer (the studies tokenize text).
    public init(session: PrismSession) throws {
        session.showsProgress = false  // the sweep shows its own progress
        self.session = session
        prism = Prism(model: session.model)
        guard session.hasTokenizer else { throw PrismError("\(session.loaded.path) has no tokenizer; the studies tokenize text") }
        tokenizer = try session.tokenizer()
    }

    public init(loaded: LoadedModel, budget: Int? = nil) throws {
        try self.init(session: PrismSession(loaded: loaded, budget: budget))
    }

    /// Whether the model has a real Gemma vocabulary (at least `StudyDefaults.realVocabulary`
    /// tokens: gemma-2b's 256,000, Gemma 3's 262,144) rather than a small one trained here (the
    /// shipped toy's 1,024, the test fixtures'). The studies' defaults follow it (`StudyDefaults`).
    public var hasRealVocabulary: Bool { model.config.vocabSize >= StudyDefaults.realVocabulary }

    /// The id of `text` when it is exactly one token in this vocabulary (no <bos>), else nil.
    public func tokenId(_ text: String) -> Int? {
        let ids = tokenizer.encode(text, addBos: false)
        return ids.count == 1 ? ids[0] : nil
    }

    /// The id of `text` as one token (e.g. " Paris"); an error names the pieces otherwise.
    public func singleToken(_ text: String) throws -> Int {
        let ids = tokenizer.encode(text, addBos: false)
        guard ids.count == 1 else {
            let pieces = ids.map { tokenizer.piece(for: $0) ?? "?" }.joined(separator: "|")
            throw PrismError("'\(text)' is \(ids.count) tokens (\(pieces)) in this model's vocabulary; the study needs single tokens")
        }
        return ids[0]
    }

    public func pieces(_ ids: [Int]) -> [String] {
        ids.map { (tokenizer.piece(for: $0) ?? "#\($0)").replacingOccurrences(of: "\u{2581}", with: " ") }
    }

    /// Runs the prompt once and decomposes its last position for `targets`; also returns the
    /// model's greedy next token.
    public func decompose(_ prompt: String, targets: [Target]) throws -> (ids: [Int], source: ActivationSource, decomposition: Decomposition, next: Int) {
        let ids = tokenizer.encode(prompt)
        let options = try plan(
            tokens: ids.count,
            extraBytes: ids.count * MemoryPlan.recordedPerToken(model.config, tokens: ids.count)
                + Decomposition.heldBytes(targets: targets.count, position: ids.count - 1, config: model.config), logitRows: 1)
        let (source, logits) = try model.record(ids, decomposedAtLast: true, options: options)
        let next = logits.indices.max { logits[$0] < logits[$1] } ?? 0
        return (ids, source, try prism.decompose(source, position: ids.count - 1, targets: targets, options: options), next)
    }

    /// Many prompts at once, layer-major (each weight read once per chunk of prompts), keeping
    /// only what the last position's decomposition needs: the studies' sweeps over every
    /// country or every a+b.
    /// Each result is handed to `body` as soon as it exists (a decomposition of gemma-2b holds
    /// every neuron's term per target: megabytes), in prompt order.
    public func decomposeMany(
        _ prompts: [String], targets: (Int) -> [Target], chunk: Int = 16,
        _ body: (Int, [Int], Decomposition, Int) throws -> Void
    ) throws {
        // Progress with rate and ETA on a terminal only: a study's sweep takes minutes on
        // gemma-2b, and a piped or logged run stays quiet.
        let progress = Progress(label: "study", total: prompts.count, unit: "prompts")
        progress.quiet = isatty(STDERR_FILENO) == 0 || prompts.count < 2
        var done = 0
        defer { if done > 0 { progress.finish() } }
        var start = 0
        while start < prompts.count {
            let (ids, options) = try plannedChunk(
                prompts.indices[start..<min(prompts.count, start + chunk)].map { (tokenizer.encode(prompts[$0]), targets($0).count) })
            let recorder = PositionRecorder(ids: ids, positions: ids.map { $0.count - 1 }, layers: model.config.numHiddenLayers)
            let cache = model.makeCache(sequences: ids.count, capacity: ids.map(\.count).max() ?? 1)
            let logits = try model.forward(
                ids, cache: cache, logitsAt: ids.map { [$0.count - 1] }, recorder: recorder,
                decomposedAt: ids.map { $0.count - 1 }, options: options)
            // A few prompts share each pull-back through W_O and W_down (held at once: a few).
            var g = 0
            while g < ids.count {
                let group = Array(g..<min(ids.count, g + Self.decompositionGroup))
                let ds = try prism.decomposeMany(group.map { (recorder.source(sequence: $0), ids[$0].count - 1, targets(start + $0)) }, options: options)
                for (s, d) in zip(group, ds) {
                    let l = logits[s].first ?? []
                    try body(start + s, ids[s], d, l.indices.max { l[$0] < l[$1] } ?? 0)
                    done += 1
                    progress.update(done)
                }
                g += Self.decompositionGroup
            }
            start += ids.count
        }
    }

    /// Prompts decomposed together after a chunk's forward pass (their decompositions are held at once).
    static let decompositionGroup = 4

    /// Plans a forward pass of `tokens` tokens that keeps `extraBytes` besides, plus the prism's
    /// pull-back cache; throws when the budget is too small.
    /// - Returns: the options the run must use.
    func plan(tokens: Int, cacheTokens: Int? = nil, extraBytes: Int, logitRows: Int) throws -> RunOptions {
        try session.plan(tokens: tokens, cacheTokens: cacheTokens, extraBytes: extraBytes + prism.pullBacks.capacityBytes, logitRows: logitRows)
    }

    /// The leading prompts of `candidates` (ids, target count) that one chunk can hold under the
    /// budget (at least one), with the plan applied: each keeps its last position's rows and
    /// logits, and a group of decompositions is held at once.
    func plannedChunk(_ candidates: [(ids: [Int], targets: Int)]) throws -> (ids: [[Int]], options: RunOptions) {
        var n = candidates.count
        while true {
            let part = candidates.prefix(n)
            let kept = part.reduce(0) { $0 + PositionRecorder.bytesPerPrompt(tokens: $1.ids.count, config: model.config) }
            let group = part.map { Decomposition.heldBytes(targets: $0.targets, position: $0.ids.count - 1, config: model.config) }
                .sorted(by: >).prefix(Self.decompositionGroup).reduce(0, +)
            do {
                let options = try plan(
                    tokens: part.reduce(0) { $0 + $1.ids.count }, cacheTokens: n * (part.map(\.ids.count).max() ?? 0),
                    extraBytes: kept + group, logitRows: n)
                return (part.map(\.ids), options)
            } catch let e as PrismError where e.kind == .overBudget && n > 1 {
                n = (n + 1) / 2
            }
        }
    }

    /// Component labels of the residual prism, as the article writes them: Embed, a0, m0, ...
    public var componentLabels: [String] {
        ["Embed"] + (0..<model.config.numHiddenLayers).flatMap { ["a\($0)", "m\($0)"] }
    }
}

/// A study's output folder: index.html, standalone SVGs, CSV and JSON data. The files are kept
/// until `finish()` writes them as a set (`writeFileSet`): a failure (disk full) leaves the
/// folder as it was, never a report without its figures nor half of an older report.
public struct StudyOutput {
    public let directory: String
    public let force: Bool
    let inputs: [String]
    /// The route of the study's runs ("int8" or "exact"): in summary.json and the report.
    public let route: String
    public var report: HTMLReport
    public private(set) var files: [String] = []
    private var contents: [String: Data] = [:]

    /// - Throws: `PrismError` when `directory` may not be written (see `Outputs.checkSet`).
    public init(directory: String, force: Bool, inputs: [String], route: String, title: String, subtitle: String) throws {
        try Outputs.checkSet(directory, force: force, inputs: inputs)
        self.directory = directory
        self.force = force
        self.inputs = inputs
        self.route = route
        report = HTMLReport(title: title, subtitle: subtitle + " (route: \(route))")
    }

    /// Adds the figure as `name.svg` and its data as `name.csv`, and puts both in the report.
    public mutating func figure(_ svg: SVG, name: String, caption: String, csv: String) throws {
        try write(svg.text, name + ".svg")
        try write(csv, name + ".csv")
        report.figure(svg, caption: caption, files: [name + ".svg", name + ".csv"])
    }

    public mutating func write(_ text: String, _ name: String) throws {
        contents[name] = Data(text.utf8)
        if !files.contains(name) { files.append(name) }
    }

    /// A JSON file; an object gets `prism_version` and `route`, as every JSON output does.
    public mutating func json(_ object: Any, _ name: String) throws {
        var object = object
        if var obj = object as? [String: Any] {
            DecompositionJSON.stamp(&obj, route: route)
            object = obj
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try write(String(decoding: data, as: UTF8.self) + "\n", name)
    }

    /// Writes every file, index.html last.
    public mutating func finish() throws {
        try write(report.render(), "index.html")
        if let note = try writeFileSet(directory, files.compactMap { name in contents[name].map { (name, $0) } }, force: force, inputs: inputs) {
            FileHandle.standardError.write(Data("note: \(note)\n".utf8))
        }
    }
}

/// Fixed-decimal formatting that does not depend on the locale.
func f3(_ v: Double) -> String { PlotFormat.fixed(v, decimals: 3) }
func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "-" : "\(a)/\(b) (\(Int((Double(a) / Double(b) * 100).rounded()))%)" }

/// The studies' defaults, chosen by the model's vocabulary (`StudyContext.hasRealVocabulary`):
/// a real Gemma gets few-shot prefixes (gemma-3-270m answers "The capital city of France is"
/// with " the" zero-shot, " Paris" with p 0.96 after two example lines); a small vocabulary (the
/// shipped toy, trained on bare lines) gets the article's zero-shot prompts. `--prefix ""` gives
/// the article's prompts on any model; any `--prefix` replaces the default.
public enum StudyDefaults {
    /// Vocabulary size from which a model counts as a real Gemma (the toy has 1,024 tokens).
    public static let realVocabulary = 32_000
}

/// Text given on the command line: `--template`, `--prefix`.
public enum StudyText {
    /// `text` with the escapes `\n` (newline), `\t` (tab) and `\\` (one backslash) replaced, so
    /// that a few-shot prefix fits on one command line.
    /// - Throws: `PrismError` naming `option` for any other backslash escape, or a trailing backslash.
    public static func unescape(_ text: String, option: String) throws -> String {
        var out = "", escaped = false
        for c in text {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\": out.append("\\")
                default: throw PrismError("\(option): unknown escape '\\\(c)' (use \\n, \\t or \\\\)")
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        if escaped { throw PrismError("\(option) ends with a lone backslash (write \\\\ for one)") }
        return out
    }

    /// `text` with newlines and tabs written as `\n` and `\t` (and `\` doubled): how the reports
    /// and stderr show a prefix on one line.
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t")
    }
}

import Foundation
import PrismKernels
import PrismModel
import PrismSupport
import PrismTokenizer
import Prisms

/// Decomposes every record of a batch input, layer-major: a chunk of prompts goes through
/// the model together (each weight read once per chunk), each prompt keeps only what its
/// position's decomposition needs, and the chunk's results are committed atomically.
public struct BatchRunner {
    public var detail: DecompositionJSON.Detail = .summary
    public var top = 10
    /// Most prompts per chunk (the memory budget may allow fewer).
    public var maxChunk = 64
    public var budget: Int?
    public var shard = Shard.all
    public var showProgress = true
    public var route: ActivationRoute = .int8

    public init() {}

    public struct Stats: Sendable {
        public var records = 0
        public var skipped = 0
        public var errors = 0
        public var chunks = 0
        public var prompts = 0
        public var seconds = 0.0
        public var weightBytesRead = 0
        public var peakRSS = 0
    }

    /// A record ready to run: tokens, position and targets resolved.
    struct Job {
        var id: String
        var ids: [Int]
        var position: Int
        var targets: [Target]
    }

    public func run(model loaded: LoadedModel, input: BatchInput, output: String) throws -> Stats {
        let start = Date()
        let model = loaded.model
        model.activationRoute = route
        let tokenizer = try loaded.tokenizerJSON.map { try GemmaTokenizer(jsonBytes: $0) }
        let header = Journal.Header(model: loaded.fingerprint, input: input.checksum, shard: shard.description,
                                    options: "detail=\(detail.rawValue) top=\(top)")
        let journal = try Journal(path: output + ".journal", header: header, output: output)
        let results = try ResultsFile(path: output, committed: journal.committedBytes)
        var stats = Stats()
        // One prism for the whole run: its pull-backs of the target tokens serve every chunk.
        let prism = Prism(model: model)
        let cacheBytes = prism.pullBacks.capacityBytes

        // This shard's records not yet committed, in file order; bad lines become error records.
        var pending: [Result<Job, BadLine>] = []
        for (k, entry) in input.entries.enumerated() where shard.takes(k) {
            stats.records += 1
            switch entry {
            case .failure(let e):
                if journal.completed.contains(e.id) { stats.skipped += 1 } else { pending.append(.failure(e)) }
            case .success(let r):
                if journal.completed.contains(r.id) { stats.skipped += 1; continue }
                do { pending.append(.success(try prepare(r, model: model, tokenizer: tokenizer))) } catch {
                    pending.append(.failure(BadLine(id: r.id, line: r.line, error: (error as? PrismError)?.message ?? "\(error)")))
                }
            }
        }
        let progress = Progress(label: "batch", total: pending.count, unit: "prompts")
        progress.quiet = !showProgress
        var done = 0
        var i = 0
        while i < pending.count {
            // A chunk: consecutive pending records, as many as the budget holds.
            var chunk: [Result<Job, BadLine>] = []
            var tokens = 0, extra = 0, group = 0
            while i < pending.count && chunk.count < maxChunk {
                if case .success(let job) = pending[i] {
                    let t = job.position + 1
                    // Per prompt: its recorded rows and its output line; plus, once, a group of
                    // decompositions in flight (the largest so far).
                    let nextExtra = extra + PositionRecorder.bytesPerPrompt(tokens: t, config: model.config) + Self.lineBytes(job, config: model.config, detail: detail)
                    let nextGroup = max(group, Self.decompositionGroup * Self.decompositionBytes(job, config: model.config))
                    if !chunk.isEmpty, let budget,
                       (try? MemoryPlan.make(model: model, budget: budget, tokens: tokens + t, extraBytes: nextExtra + nextGroup + cacheBytes, logitRows: 0)) == nil {
                        break
                    }
                    tokens += t
                    extra = nextExtra
                    group = nextGroup
                }
                chunk.append(pending[i])
                i += 1
            }
            let plan = try MemoryPlan.make(model: model, budget: budget, tokens: max(1, tokens), extraBytes: extra + group + cacheBytes, logitRows: 0)
            model.apply(plan)
            let lines = try runChunk(chunk, model: model, prism: prism, tokenizer: tokenizer, stats: &stats)
            try results.append(lines: lines.map(\.1))
            try journal.commit(ids: lines.map(\.0), outputBytes: results.bytes)
            stats.chunks += 1
            done += chunk.count
            progress.update(done)
        }
        progress.finish()
        stats.seconds = Date().timeIntervalSince(start)
        stats.weightBytesRead = model.weightBytesRead
        stats.peakRSS = ResourceUsage.peakRSS
        return stats
    }

    /// Tokenizes and checks a record; errors here become the record's error line.
    func prepare(_ r: BatchRecord, model: GemmaModel, tokenizer: GemmaTokenizer?) throws -> Job {
        let ids: [Int]
        if let prompt = r.prompt {
            guard let tokenizer else { throw PrismError("the model has no tokenizer; give \"ids\"") }
            ids = tokenizer.encode(prompt)
        } else {
            ids = r.ids ?? []
        }
        for id in ids where id >= model.vocab { throw PrismError("token id \(id) is outside the vocabulary (0..<\(model.vocab))") }
        guard ids.count <= model.config.max_position_embeddings else {
            throw PrismError("prompt of \(ids.count) tokens exceeds max_position_embeddings \(model.config.max_position_embeddings)")
        }
        let p = try Prism.resolve(position: r.position, count: ids.count)
        /// `#123` is an id; any other text must be exactly one token.
        func single(_ text: String) throws -> Int {
            if text.hasPrefix("#"), let id = Int(text.dropFirst()) {
                guard id >= 0, id < model.vocab else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(model.vocab))") }
                return id
            }
            guard let tokenizer else { throw PrismError("target '\(text)' is text but the model has no tokenizer") }
            let t = tokenizer.encode(text, addBos: false)
            guard t.count == 1 else { throw PrismError("target '\(text)' is \(t.count) tokens, not one") }
            return t[0]
        }
        func label(_ id: Int) -> String { tokenizer?.piece(for: id) ?? "#\(id)" }
        var targets: [Target] = []
        for id in r.targetIds {
            guard id < model.vocab else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(model.vocab))") }
            targets.append(.token(id, label: label(id)))
        }
        for text in r.targets { let id = try single(text); targets.append(.token(id, label: label(id))) }
        for pair in r.targetDiffs {
            let a = try single(pair[0]), b = try single(pair[1])
            targets.append(.difference(a, b, label: "\(label(a)) - \(label(b))"))
        }
        return Job(id: r.id, ids: Array(ids[...p]), position: p, targets: targets)
    }

    /// One layer-major forward pass over the chunk's prompts, then each one's decomposition,
    /// turned into its output line at once (a full decomposition of gemma-2b holds every
    /// neuron's term per target: megabytes; only the line is kept).
    func runChunk(_ chunk: [Result<Job, BadLine>], model: GemmaModel, prism: Prism, tokenizer: GemmaTokenizer?, stats: inout Stats) throws -> [(String, String)] {
        let jobs = chunk.compactMap { if case .success(let j) = $0 { return j } else { return nil } }
        var lines: [String: String] = [:]
        if !jobs.isEmpty {
            let recorder = PositionRecorder(ids: jobs.map(\.ids), positions: jobs.map(\.position), layers: model.config.num_hidden_layers)
            let cache = model.makeCache(sequences: jobs.count, capacity: jobs.map(\.ids.count).max() ?? 1)
            _ = try model.forward(jobs.map(\.ids), cache: cache, logitsAt: jobs.map { _ in [] }, recorder: recorder,
                                  decomposedAt: jobs.map(\.position))
            // Decompositions layer-major too, a group of prompts per pass over W_O and W_down;
            // each turned into its line at once.
            var start = 0
            while start < jobs.count {
                let group = Array(jobs.indices[start..<min(jobs.count, start + Self.decompositionGroup)])
                let ds = try prism.decomposeMany(group.map { (recorder.source(sequence: $0), jobs[$0].position, jobs[$0].targets) })
                for (s, d) in zip(group, ds) {
                    let job = jobs[s]
                    var obj = DecompositionJSON.object(d, pieces: tokenizer.map { t in job.ids.map { t.piece(for: $0) ?? "?" } }, detail: detail, top: top)
                    obj["id"] = job.id
                    lines[job.id] = try Self.line(obj)
                }
                start += Self.decompositionGroup
            }
            stats.prompts += jobs.count
        }
        return try chunk.map { entry in
            switch entry {
            case .failure(let bad):
                stats.errors += 1
                return (bad.id, try Self.line(["id": bad.id, "error": bad.error]))
            case .success(let job):
                guard let line = lines[job.id] else { throw PrismError("internal: no result for \(job.id)") }
                return (job.id, line)
            }
        }
    }

    /// Prompts decomposed together (their full decompositions are held at once).
    static let decompositionGroup = 8

    /// Memory of one decomposition while it is built: every head, source and neuron term per
    /// target, in Double.
    static func decompositionBytes(_ job: Job, config c: GemmaConfig) -> Int {
        Decomposition.heldBytes(targets: job.targets.count, position: job.position, config: c)
    }

    /// Memory of a record's output line until its chunk is committed: a summary is a few KB; a
    /// full line spells every term out in JSON (~20 bytes a number).
    static func lineBytes(_ job: Job, config c: GemmaConfig, detail: DecompositionJSON.Detail) -> Int {
        detail == .full ? decompositionBytes(job, config: c) / 8 * 24 : 16 * 1024
    }

    static func line(_ obj: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

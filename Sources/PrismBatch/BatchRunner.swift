import Foundation
import PrismKernels
import PrismModel
import PrismSession
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
    public var shard = Shard.all
    public var showProgress = true

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
        /// The input line it came from: the record's key in the journal and output.
        var line: Int
        /// The prompt up to the decomposed position: what the forward pass runs (later tokens
        /// cannot change it).
        var ids: [Int]
        /// The whole prompt, as the record gave it: what the line reports.
        var prompt: [Int]
        var position: Int
        var targets: [Target]
    }

    /// Runs every pending record of this shard, appending their lines to `output` chunk by
    /// chunk. A record that cannot be run (bad line, tokens outside the vocabulary, more memory
    /// than the budget allows even alone) becomes an error record and the job goes on.
    /// - Throws: `PrismError` for job-level failures: another process writing `output`, a
    ///   journal from other inputs or options, I/O errors.
    /// - Parameter session: the model, its budget (each chunk is planned against it) and route.
    public func run(_ session: PrismSession, input: BatchInput, output: String) throws -> Stats {
        let start = Date()
        let lock = try OutputLock(output: output)
        defer { withExtendedLifetime(lock) {} }
        let loaded = session.loaded, model = session.model, budget = session.budget
        session.showsProgress = false  // the job shows its own progress
        // The journal names the weights by their content, checked now: a model changed between
        // two runs of a job (even in place, at the same size) is never mixed into one output.
        // The route too: records made on two routes are never mixed into one output.
        let header = Journal.Header(
            model: try loaded.contentFingerprint(), input: input.checksum, shard: shard.description,
            options: "detail=\(detail.rawValue) top=\(top) route=\(RunOptions(route: session.route).routeName(for: model))")
        let journal = try Journal(path: output + ".journal", header: header, output: output)
        let results = try ResultsFile(path: output, committed: journal.committedBytes, bound: journal.writtenBytesBound)
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
                if journal.completed.contains(e.line) { stats.skipped += 1 } else { pending.append(.failure(e)) }
            case .success(let r):
                if journal.completed.contains(r.line) { stats.skipped += 1; continue }
                do { pending.append(.success(try prepare(r, session: session))) } catch {
                    pending.append(.failure(BadLine(id: r.id, line: r.line, error: (error as? PrismError)?.message ?? "\(error)")))
                }
            }
        }
        let progress = Progress(label: "batch", total: pending.count, unit: "prompts")
        progress.quiet = !showProgress
        var done = 0
        var i = 0
        // The tokenizer counted as parsed whether or not text came first, so every chunk (and a
        // record's over-budget error) is planned the same in every run and resume.
        let held = session.heldBytes(assumeParsed: true)
        while i < pending.count {
            // A chunk: consecutive pending records, as many as the budget holds.
            var chunk: [Result<Job, BadLine>] = []
            var need = ChunkNeed()
            while i < pending.count && chunk.count < maxChunk {
                if case .success(let job) = pending[i] {
                    let next = need.adding(job, config: model.config, detail: detail)
                    if let budget, try !Self.fits(next, cacheBytes: cacheBytes, held: held, model: model, budget: budget) {
                        if !chunk.isEmpty { break }
                        // Alone over the budget: an error record naming what it needs, not a
                        // failed job (which every rerun would repeat).
                        let error = Self.overBudget(job, need: next, cacheBytes: cacheBytes, held: held, model: model, budget: budget)
                        pending[i] = .failure(BadLine(id: job.id, line: job.line, error: error))
                    } else {
                        need = next
                    }
                }
                chunk.append(pending[i])
                i += 1
            }
            let options = try session.plan(
                tokens: max(1, need.tokens), cacheTokens: need.cacheTokens, extraBytes: need.extra + cacheBytes, logitRows: need.prompts,
                heldBytes: held)
            let lines = try runChunk(chunk, session: session, options: options, prism: prism, stats: &stats)
            try loaded.checkUnchanged()
            try journal.intend(outputBytes: results.bytes + lines.reduce(0) { $0 + $1.text.utf8.count + 1 })
            try results.append(lines: lines.map(\.text))
            try journal.commit(lines: lines.map(\.line), outputBytes: results.bytes)
            stats.chunks += 1
            done += chunk.count
            progress.update(done)
        }
        progress.finish()
        stats.seconds = Date().timeIntervalSince(start)
        stats.weightBytesRead = session.meter.weightBytesRead
        stats.peakRSS = ResourceUsage.peakRSS
        return stats
    }

    /// What a chunk holds besides the weights: its tokens, and per prompt its recorded rows and
    /// output line, plus one group of decompositions in flight (the largest so far) and, for
    /// `--detail full`, one line being serialized (the largest so far).
    struct ChunkNeed {
        var tokens = 0
        var prompts = 0
        var longest = 0
        var perPrompt = 0
        var group = 0
        var serializing = 0
        var extra: Int { perPrompt + group + serializing }
        /// The KV cache is allocated as prompts x the longest prompt.
        var cacheTokens: Int { prompts * longest }

        func adding(_ job: Job, config: GemmaConfig, detail: DecompositionJSON.Detail) -> ChunkNeed {
            let t = job.position + 1
            var next = self
            next.tokens += t
            next.prompts += 1
            next.longest = max(longest, t)
            next.perPrompt += PositionRecorder.bytesPerPrompt(tokens: t, config: config) + BatchRunner.lineBytes(job, config: config, detail: detail)
            let held = BatchRunner.decompositionBytes(job, config: config)
            next.group = max(group, BatchRunner.decompositionGroup * held)
            if detail == .full { next.serializing = max(serializing, DecompositionJSON.outputBytes(heldBytes: held, detail: .full) - held) }
            return next
        }
    }

    /// Whether a chunk needing `need` fits `budget`; any error but the planner's over-budget one
    /// (kind `.overBudget`) is thrown.
    /// - Throws: what `MemoryPlan.make` throws other than that.
    static func fits(_ need: ChunkNeed, cacheBytes: Int, held: Int, model: GemmaModel, budget: Int) throws -> Bool {
        do {
            _ = try MemoryPlan.make(
                model: model, budget: budget, tokens: need.tokens, cacheTokens: need.cacheTokens,
                extraBytes: need.extra + cacheBytes, logitRows: need.prompts, heldBytes: held)
            return true
        } catch let e as PrismError where e.kind == .overBudget {
            return false
        }
    }

    /// The error of a record that does not fit the budget even alone (the planner's own words,
    /// naming the minimum).
    static func overBudget(_ job: Job, need: ChunkNeed, cacheBytes: Int, held: Int, model: GemmaModel, budget: Int) -> String {
        let what = "\(job.position + 1) tokens and \(job.targets.count) targets do not fit the memory budget"
        do {
            _ = try MemoryPlan.make(
                model: model, budget: budget, tokens: need.tokens, cacheTokens: need.cacheTokens, extraBytes: need.extra + cacheBytes, logitRows: 0,
                heldBytes: held)
            return what
        } catch let e as PrismError {
            return "\(what): \(e.message)"
        } catch {
            return "\(what): \(error)"
        }
    }

    /// Tokenizes and checks a record; errors here become the record's error line.
    func prepare(_ r: BatchRecord, session: PrismSession) throws -> Job {
        let model = session.model
        let ids = try session.tokens(text: r.prompt, ids: r.ids)
        for id in ids where id >= model.vocab { throw PrismError("token id \(id) is outside the vocabulary (0..<\(model.vocab))") }
        guard ids.count <= model.config.maxPositionEmbeddings else {
            throw PrismError("prompt of \(ids.count) tokens exceeds max_position_embeddings \(model.config.maxPositionEmbeddings)")
        }
        let p = try Prism.resolve(position: r.position, count: ids.count)
        let targets = try session.targets(ids: r.targetIds, tokens: r.targets, diffs: r.targetDiffs.map { ($0[0], $0[1]) }, style: .quoted)
        return Job(id: r.id, line: r.line, ids: Array(ids[...p]), prompt: ids, position: p, targets: targets)
    }

    /// One layer-major forward pass over the chunk's prompts, then each one's decomposition,
    /// turned into its output line at once (a full decomposition of gemma-2b holds every
    /// neuron's term per target: megabytes; only the line is kept).
    func runChunk(
        _ chunk: [Result<Job, BadLine>], session: PrismSession, options: RunOptions, prism: Prism,
        stats: inout Stats
    ) throws -> [(line: Int, text: String)] {
        let model = session.model
        let jobs = chunk.compactMap { if case .success(let j) = $0 { return j } else { return nil } }
        var lines: [Int: String] = [:]
        if !jobs.isEmpty {
            let recorder = PositionRecorder(ids: jobs.map(\.ids), positions: jobs.map(\.position), layers: model.config.numHiddenLayers)
            let cache = model.makeCache(sequences: jobs.count, capacity: jobs.map(\.ids.count).max() ?? 1)
            // The logits at each decomposed position: the line states the model's top-1 and each
            // target's rank, as `prism decompose --json` does.
            let logits = try model.forward(
                jobs.map(\.ids), cache: cache, logitsAt: jobs.map { [$0.position] }, recorder: recorder,
                decomposedAt: jobs.map(\.position), options: options)
            let ranks = logits.map { $0.first.map(LogitRanks.init) }
            let route = options.routeName(for: model)
            // Decompositions layer-major too, a group of prompts per pass over W_O and W_down;
            // each turned into its line at once.
            var start = 0
            while start < jobs.count {
                let group = Array(jobs.indices[start..<min(jobs.count, start + Self.decompositionGroup)])
                let ds = try prism.decomposeMany(group.map { (recorder.source(sequence: $0), jobs[$0].position, jobs[$0].targets) }, options: options)
                for (s, decomposition) in zip(group, ds) {
                    let job = jobs[s]
                    var d = decomposition
                    d.ids = job.prompt  // the whole prompt, as `prism decompose` reports it
                    var obj = DecompositionJSON.object(d, pieces: try session.texts(job.prompt), detail: detail, top: top)
                    DecompositionJSON.stamp(&obj, route: route)
                    if let r = ranks[s] {
                        DecompositionJSON.addRanks(&obj, ranks: r, top1Token: try r.top1.map { try session.text($0.id) })
                    }
                    obj["id"] = job.id
                    obj["line"] = job.line
                    lines[job.line] = try Self.line(obj)
                }
                start += Self.decompositionGroup
            }
            stats.prompts += jobs.count
        }
        return try chunk.map { entry in
            switch entry {
            case .failure(let bad):
                stats.errors += 1
                return (bad.line, try Self.line(["id": bad.id.map { $0 as Any } ?? NSNull(), "line": bad.line, "error": bad.error]))
            case .success(let job):
                guard let text = lines[job.line] else { throw PrismError("internal: no result for line \(job.line)") }
                return (job.line, text)
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

    /// One JSON line; NaN and inf as strings (`JSONNumbers`), so a NaN model's record stays valid JSON.
    static func line(_ obj: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: JSONNumbers.encodable(obj), options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

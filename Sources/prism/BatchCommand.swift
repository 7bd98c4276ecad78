import ArgumentParser
import Foundation
import PrismBatch
import PrismFormats
import PrismModel
import PrismSession
import PrismSupport
import Prisms

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Decompose every prompt of a JSONL file, within a memory budget; resumable and shardable.",
        discussion: """
            Input, one JSON object per line:
              {"id": "fr", "prompt": "The capital of France is", "targets": [" Paris"], "position": -1}
              {"id": "x7", "ids": [2, 343, 339, 341, 643, 335], "target_ids": [715], "target_diffs": [[" Paris", " London"]]}
            Output: one line per input line, the schema of `prism decompose --json` plus "id" and \
            "line" (the input line it answers), or {"id": ..., "line": N, "error": "..."} for a bad record (the job goes on; it exits non-zero only for \
            job-level failures).

            Prompts run layer-major in chunks (each weight read once per chunk); the chunk size comes \
            from --max-memory. Results and a journal (OUTPUT.journal) are fsynced per chunk: after a \
            kill, rerunning the same command resumes, and the output holds every input line's record \
            exactly once (ids are yours: they may repeat).

            Sharding: --shard I/N takes records k with k mod N == I. Without it, SLURM_ARRAY_TASK_ID / \
            SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX (with --shards N) are read. Join the parts \
            with `prism merge`.
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Input JSONL file.")
    var input: String

    @Option(help: "Output JSONL file (appended to when resuming).")
    var output: String

    @Option(parsing: .unconditional, help: "Most prompts per chunk (the memory budget may allow fewer).")
    var chunk = 64

    @Option(parsing: .unconditional, help: "This job's share of the records, I/N (0-based).")
    var shard: String?

    @Option(parsing: .unconditional, help: "Number of shards, with JOB_COMPLETION_INDEX (Kubernetes) or to override SLURM_ARRAY_TASK_COUNT.")
    var shards: Int?

    @Option(parsing: .unconditional, help: "How many of the largest terms to keep per kind (summary detail).")
    var top = 10

    @Option(help: "summary or full (every head, source and neuron: large).")
    var detail: DecompositionJSON.Detail = .summary

    @Option(help: "Also write dataset statistics to this JSON file (and a CSV beside it).")
    var summary: String?

    @Flag(help: "Replace the --summary files if they exist (the results themselves are always resumed, never replaced).")
    var force = false

    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if chunk < 1 { throw ValidationError("--chunk must be >= 1") }
        if top < 0 || top > CLI.maxCount { throw ValidationError("--top must be between 0 and \(CLI.maxCount)") }
        if let shard {
            let parsed: Shard
            do { parsed = try Shard.parse(shard) } catch let e as PrismError { throw ValidationError(e.message) }
            if let shards, shards != parsed.count { throw ValidationError("--shard \(shard) and --shards \(shards) disagree on the number of shards") }
        }
    }

    func run() throws {
        try CLI.guarded {
            try Outputs.checkFile(output, force: true, inputs: [model.model, input], resumable: true)
            // Appended to and locked by name: a link would let two names be two locks of one file.
            var link = stat()
            if lstat(output, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
                throw PrismError("\(output) is a link; give the batch output's real path")
            }
            if let summary {
                try Summaries.check(summary, force: force, inputs: [model.model, input, output, output + ".journal", output + ".lock"])
            }
            let session = try model.session(runtime)
            let input = try BatchInput.read(path: self.input) { XXH64.hex(XXH64.hash([UInt8]($0))) }
            let runner = try self.runner()
            // The smallest chunk (one prompt) must fit, or nothing can run.
            _ = try session.plan(tokens: 1)
            let s = try runner.run(session, input: input, output: output)
            let perPrompt = s.prompts > 0 ? s.weightBytesRead / s.prompts : 0
            FileHandle.standardError.write(
                Data(
                    "batch: shard \(runner.shard), \(s.records) records (\(s.skipped) already done), \(s.prompts) decomposed, \(s.errors) error records, \(s.chunks) chunks, \(String(format2: s.seconds)) s\n"
                        .utf8))
            if runtime.stats {
                FileHandle.standardError.write(
                    Data(
                        "stats: peak RSS \(ByteSize.format(s.peakRSS)), weight bytes read \(ByteSize.format(s.weightBytesRead)) (\(ByteSize.format(perPrompt)) per prompt), \(String(format2: Double(s.prompts) / max(s.seconds, 1e-9))) prompts/s\n"
                            .utf8))
            }
            if let summary { try Summaries.write(results: output, to: summary, force: force) }
        }
    }
}

extension BatchCommand {
    /// The runner as the options set it; the shard from `--shard`, else the environment.
    /// - Throws: `PrismError` for a malformed shard in the environment.
    func runner() throws -> BatchRunner {
        var runner = BatchRunner()
        (runner.detail, runner.top, runner.maxChunk, runner.showProgress) = (detail, top, chunk, !quiet)
        runner.shard = try shard.map(Shard.parse) ?? Shard.fromEnvironment(ProcessInfo.processInfo.environment, shards: shards) ?? .all
        return runner
    }
}

enum Summaries {
    /// The CSV written beside a summary's JSON.
    static func csvPath(_ path: String) -> String { (path.hasSuffix(".json") ? String(path.dropLast(5)) : path) + ".csv" }

    /// Refuses, before any work, summary files that may not be written (`Outputs.checkFile`).
    static func check(_ path: String, force: Bool, inputs: [String]) throws {
        guard path != csvPath(path) else { throw PrismError("\(path): the summary's CSV would have the same name; give a name ending in .json") }
        try Outputs.checkFile(path, force: force, inputs: inputs)
        try Outputs.checkFile(csvPath(path), force: force, inputs: inputs)
    }

    static func write(results: String, to path: String, force: Bool) throws {
        try check(path, force: force, inputs: [results])
        let r = try BatchSummary.summarize(resultsPath: results)
        let json = try JSONSerialization.data(withJSONObject: r.object, options: [.prettyPrinted, .sortedKeys])
        try writeFileAtomically(json, to: path, force: force)
        try writeFileAtomically(Data(r.csv.utf8), to: csvPath(path), force: force)
        print("wrote \(path) and \(csvPath(path))")
    }
}

struct SummarizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summarize",
        abstract: "Dataset statistics over batch results: per component mean, spread, share towards the target.")

    @Argument(help: "A results JSONL file from `prism batch` or `prism merge`.")
    var results: String

    @Option(name: [.short, .customLong("output")], help: "The JSON file to write (a CSV is written beside it).")
    var output: String = "summary.json"

    @Flag(help: "Replace OUTPUT and its CSV if they exist.")
    var force = false

    func run() throws {
        try CLI.guarded { try Summaries.write(results: results, to: output, force: force) }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of batch shards of one job, checking every input line's record appears exactly once.",
        discussion: "With --input, also checks that every input record is in some part.")

    @Argument(help: "Shard outputs.")
    var parts: [String]

    @Option(name: [.short, .customLong("output")], help: "The merged JSONL file.")
    var output: String

    @Option(help: "The batch input, to check that no record is missing.")
    var input: String?

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    func run() throws {
        try CLI.guarded {
            try Outputs.checkFile(output, force: force, inputs: parts + (input.map { [$0] } ?? []))
            let inputFile = try input.map { try BatchInput.read(path: $0) { XXH64.hex(XXH64.hash([UInt8]($0))) } }
            let r = try BatchMerge.merge(parts: parts, output: output, input: inputFile, force: force)
            print("wrote \(output): \(r.records) records (\(r.errors) error records) from \(parts.count) parts")
        }
    }
}

import ArgumentParser
import Foundation
import PrismBench
import PrismKernels
import PrismModel
import PrismOutputs
import PrismSession
import PrismSupport
import Prisms

/// Benchmarks: every configuration runs in a child process of its own (so its peak RSS is
/// its own), the peer (llama.cpp through tools/bench_llamacpp.py) in the same run, and the
/// table prints medians and ratios side by side.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Prefill, decode and peak RSS on a model, beside the machine's read floor and llama.cpp.",
        discussion: """
              prism bench -m gemma-2b.prism --peer-checkpoint ~/gemma-2b-shaped --peer-gguf gemma-2b-q8_0.gguf
            Measures, each in its own process: prefill of --tokens tokens, one decode step after it, \
            peak RSS; for the default (int8 activations) and exact (fp32 activations) routes, for any \
            --also models (e.g. an f32 conversion), and with --max-memory budgets. The read floor \
            is one sequential pass over the mapped model file from the page cache. Every measurement \
            runs on --threads threads (default: the CPUs this process may use), the peer too. \
            Quote the medians; machines are shared and noisy.
            """
    )

    @OptionGroup var model: ModelOptions

    @Option(help: "More model files to measure the same way (e.g. an f32 conversion).")
    var also: [String] = []

    @Option(parsing: .unconditional, help: "Prompt tokens for the prefill.")
    var tokens = 32

    @Option(parsing: .unconditional, help: "Repeats per measurement (medians are reported).")
    var repeats = 5

    @Option(name: .customLong("budget"), parsing: .unconditionalSingleValue, help: "Also run under these --max-memory budgets (repeatable).")
    var budgets: [String] = []

    @Option(help: "The Hugging Face checkpoint the peer converts from.")
    var peerCheckpoint: String?

    @Option(help: "The GGUF file of the peer (written on first use).")
    var peerGguf: String?

    @Option(help: "The peer script (default: tools/bench_llamacpp.py here, else in the repository this prism was built in).")
    var peerScript: String?

    @Option(
        name: .customLong("prism-tokens"), parsing: .unconditionalSingleValue,
        help: "Prompt lengths for the prisms' cost (repeatable; default: --tokens and 128).")
    var prismTokens: [Int] = []

    @Flag(help: "Print the measurements as one JSON object.")
    var json = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Threads for every measurement and the peer (default: the CPUs this process may use, by affinity mask and cgroup CPU quota).",
            valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 {
            throw ValidationError("--threads must be between 1 and 1024, not \(threads) (more threads than CPUs only adds switching)")
        }
        try CLI.checkCounts("--tokens", [tokens])
        try CLI.checkCounts("--repeats", [repeats])
        try CLI.checkCounts("--prism-tokens", prismTokens)
        // Checked before the first measurement, not after minutes of them.
        for b in budgets {
            do { _ = try ByteSize.parse(b) } catch let e as PrismError { throw ValidationError("--budget: \(e.message)") }
        }
        for path in also where !FileManager.default.fileExists(atPath: path) { throw ValidationError("--also: \(path) does not exist") }
    }

    func run() throws {
        try CLI.guarded {
            guard let exe = Bundle.main.executablePath else { throw PrismError("cannot find the prism executable") }
            var suite = BenchSuite(executable: exe, model: model.model, threads: threads ?? CPUs.available)
            (suite.also, suite.tokens, suite.repeats, suite.budgets, suite.prismTokens) = (also, tokens, repeats, budgets, prismTokens)
            (suite.peerGGUF, suite.peerCheckpoint) = (peerGguf, peerCheckpoint)
            suite.peerScript = peerScript ?? BenchSuite.defaultPeerScript(executable: exe)
            let results = try suite.measure()
            if json { return try JSONOut.print(results.json) }
            var out = try StandardOutput()
            BenchTable.write(results, model: model.model, tokens: tokens, repeats: repeats, peerCheckpoint: peerCheckpoint, to: &out)
        }
    }
}

/// One measured configuration, in a process of its own.
struct BenchChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-child", abstract: "One benchmark measurement (used by `prism bench`).",
        shouldDisplay: false)

    @OptionGroup var model: ModelOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(parsing: .unconditional) var tokens = 32
    @Option(parsing: .unconditional) var repeats = 5
    @Flag var readFloor = false
    @Option(parsing: .unconditional, help: "Measure the full decomposition for this many targets instead.") var prisms: Int?

    func validate() throws {
        try CLI.checkCounts("--tokens", [tokens])
        try CLI.checkCounts("--repeats", [repeats])
        if let prisms, prisms < 1 || prisms > CLI.maxCount { throw ValidationError("--prisms must be between 1 and \(CLI.maxCount)") }
    }

    func run() throws {
        try CLI.guarded {
            if readFloor {
                try JSONOut.print(try Measurements.readFloor(path: model.model, repeats: repeats, threads: runtime.threadCount))
                return
            }
            let session = try model.session(runtime)
            session.showsProgress = false  // a measurement: its stderr is the parent's
            if let k = prisms {
                try JSONOut.print(try Measurements.prisms(session, tokens: tokens, repeats: repeats, targets: k))
            } else {
                try JSONOut.print(try Measurements.forward(session, tokens: tokens, repeats: repeats))
            }
        }
    }
}

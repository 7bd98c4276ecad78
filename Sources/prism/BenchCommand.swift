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

    @Option(help: "Prompt tokens for the prefill.")
    var tokens = 32

    @Option(help: "Repeats per measurement (medians are reported).")
    var repeats = 5

    @Option(name: .customLong("budget"), help: "Also run under these --max-memory budgets (repeatable).")
    var budgets: [String] = []

    @Option(help: "The Hugging Face checkpoint the peer converts from.")
    var peerCheckpoint: String?

    @Option(help: "The GGUF file of the peer (written on first use).")
    var peerGguf: String?

    @Option(help: "The peer script.")
    var peerScript = "tools/bench_llamacpp.py"

    @Option(name: .customLong("prism-tokens"), help: "Prompt lengths for the prisms' cost (repeatable; default: --tokens and 128).")
    var prismTokens: [Int] = []

    @Flag(help: "Print the measurements as one JSON object.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Threads for every measurement and the peer (default: the CPUs this process may use, by affinity mask and cgroup CPU quota).",
            valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
    }

    func run() throws {
        try CLI.guarded {
            guard let exe = Bundle.main.executablePath else { throw PrismError("cannot find the prism executable") }
            let threadCount = threads ?? CPUs.available
            let threadArgs = ["--threads", "\(threadCount)"]
            var rows: [[String: Any]] = []
            func child(_ label: String, _ path: String, _ extra: [String]) throws {
                let r = try Self.runJSON(exe, ["bench-child", "-m", path, "--tokens", "\(tokens)", "--repeats", "\(repeats)"] + threadArgs + extra)
                var row = r
                row["config"] = label
                rows.append(row)
                FileHandle.standardError.write(Data("bench: \(label) done\n".utf8))
            }
            try child("int8 weights, int8 activations", model.model, [])
            try child("int8 weights, fp32 activations", model.model, ["--exact-activations"])
            for b in budgets { try child("int8, --max-memory \(b)", model.model, ["--max-memory", b]) }
            for path in also { try child("\((path as NSString).lastPathComponent)", path, []) }
            let floor = try Self.runJSON(exe, ["bench-child", "-m", model.model, "--read-floor", "--repeats", "\(repeats)"] + threadArgs)
            // The prisms' cost grows with the targets, the forward pass with the prompt: measured at a few lengths.
            let lengths = prismTokens.isEmpty ? Array(Set([tokens, 128])).sorted() : prismTokens
            let prismCosts = try lengths.map { t in
                try Self.runJSON(exe, ["bench-child", "-m", model.model, "--prisms", "10", "--tokens", "\(t)", "--repeats", "\(repeats)"] + threadArgs)
            }
            var peer: [String: Any]? = nil
            // Without a checkpoint the GGUF is measured as it is (a GGUF the model was converted from).
            if let gguf = peerGguf {
                let ckpt = peerCheckpoint ?? "none"
                peer = try Self.runJSON(
                    "/usr/bin/env",
                    [
                        "python3", peerScript, "--checkpoint", ckpt, "--gguf", gguf, "--threads", "\(threadCount)",
                        "--prompt-tokens", "\(tokens)", "--repeats", "\(repeats)", "--json",
                    ])
            }
            if json {
                var obj: [String: Any] = ["runs": rows, "read_floor": floor, "prisms": prismCosts, "threads": threadCount]
                if let peer { obj["peer"] = peer }
                try JSONOut.print(obj)
                return
            }
            let floorMs = floor["read_ms_median"] as? Double ?? .nan
            let peerPrefill = peer?["prefill_ms_median"] as? Double, peerDecode = peer?["decode_ms_median"] as? Double
            let peerRSS = peer?["peak_rss_bytes"] as? Int
            print(
                "model \(model.model): \(ByteSize.format(floor["bytes"] as? Int ?? 0)); read floor (one pass from page cache) \(String(format: "%.1f", floorMs)) ms; \(tokens)-token prompt, \(threadCount) threads, medians of \(repeats)"
            )
            func line(_ c: [String]) -> String {
                cell(c[0], 34) + zip(c.dropFirst(), [12, 13, 12, 13, 10, 11]).map { cell($0, $1, right: true) }.joined()
            }
            print(line(["configuration", "prefill ms", "vs llama.cpp", "decode ms", "vs llama.cpp", "vs floor", "peak RSS"]))
            func ratio(_ a: Double?, _ b: Double?) -> String { (a != nil && b != nil && b! > 0) ? String(format: "%.2fx", a! / b!) : "-" }
            if let peer {
                print(
                    line([
                        "llama.cpp \(peerCheckpoint == nil ? "GGUF" : "Q8_0") (\(peer["llama_cpp_python"] ?? "?"))",
                        String(format: "%.1f", peerPrefill ?? .nan), "1.00x",
                        String(format: "%.1f", peerDecode ?? .nan), "1.00x", ratio(peerDecode, floorMs), ByteSize.format(peerRSS ?? 0),
                    ]))
            }
            for r in rows {
                let p = r["prefill_ms_median"] as? Double, d = r["decode_ms_median"] as? Double
                print(
                    line([
                        r["config"] as? String ?? "", String(format: "%.1f", p ?? .nan), ratio(p, peerPrefill), String(format: "%.1f", d ?? .nan),
                        ratio(d, peerDecode), ratio(d, floorMs), ByteSize.format(r["peak_rss_bytes"] as? Int ?? 0),
                    ]))
            }
            print("(ratios are time / llama.cpp's time and decode / read floor: lower is better; RSS counts mapped weight pages once touched)")
            print("prisms, 10 targets, every head x source and neuron (int8 route):")
            for cost in prismCosts {
                let pf = cost["forward_ms_median"] as? Double ?? .nan, rf = cost["recording_forward_ms_median"] as? Double ?? .nan
                let dc = cost["decompose_ms_median"] as? Double ?? .nan, pb = cost["pullback_ms_median"] as? Double ?? .nan
                let dw = cost["decompose_reusing_ms_median"] as? Double ?? .nan
                let pct = cost["cost_percent_median"] as? Double ?? .nan, pctW = cost["cost_reusing_percent_median"] as? Double ?? .nan
                print(
                    String(
                        format:
                            "  %d tokens: forward %.1f ms, forward recording activations %.1f ms, decomposition %.1f ms (pull-backs alone %.1f ms): %.0f%% on top of the forward pass;",
                        cost["tokens"] as? Int ?? 0, pf, rf, dc, pb, pct))
                print(
                    String(
                        format: "     reusing the targets' pull-backs (a later prompt of a study or batch job): decomposition %.1f ms, %.0f%% on top", dw, pctW)
                )
            }
        }
    }

    static func runJSON(_ exe: String, _ args: [String]) throws -> [String: Any] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PrismError("benchmark step failed: \(([exe] + args).joined(separator: " "))")
        }
        return obj
    }
}

/// One measured configuration, in a process of its own.
struct BenchChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-child", abstract: "One benchmark measurement (used by `prism bench`).",
        shouldDisplay: false)

    @OptionGroup var model: ModelOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option var tokens = 32
    @Option var repeats = 5
    @Flag var readFloor = false
    @Option(help: "Measure the full decomposition for this many targets instead.") var prisms: Int?

    func run() throws {
        try CLI.guarded {
            if readFloor {
                try JSONOut.print(try Measurements.readFloor(path: model.model, repeats: repeats, threads: runtime.threadCount))
                return
            }
            let session = try model.session(runtime)
            if let k = prisms {
                try JSONOut.print(try Measurements.prisms(session, tokens: tokens, repeats: repeats, targets: k))
            } else {
                try JSONOut.print(try Measurements.forward(session, tokens: tokens, repeats: repeats))
            }
        }
    }
}

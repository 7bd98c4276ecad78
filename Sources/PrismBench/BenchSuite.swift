import Foundation
import PrismSupport

/// What `prism bench` measures, each measurement in a child process of its own (`prism
/// bench-child`, so each peak RSS is its own), and the peer (llama.cpp, through a Python script)
/// in the same run.
public struct BenchSuite {
    /// The prism executable whose `bench-child` command measures.
    public var executable: String
    public var model: String
    /// More model files measured the same way (e.g. an f32 conversion).
    public var also: [String] = []
    /// Prompt tokens for the prefill.
    public var tokens = 32
    /// Repeats per measurement (medians are reported).
    public var repeats = 5
    /// `--max-memory` budgets to run the default route under as well.
    public var budgets: [String] = []
    /// Prompt lengths for the prisms' cost (empty: `tokens` and 128).
    public var prismTokens: [Int] = []
    /// Threads for every measurement and the peer.
    public var threads: Int
    /// The peer's GGUF file; nil: no peer.
    public var peerGGUF: String?
    /// The Hugging Face checkpoint the peer converts from; nil: the GGUF is measured as it is.
    public var peerCheckpoint: String?
    public var peerScript = BenchSuite.peerScriptName

    /// The peer script's path inside the repository.
    public static let peerScriptName = "tools/bench_llamacpp.py"

    /// `tools/bench_llamacpp.py` in the working directory if it is there, else in the nearest
    /// directory above `executable` that has it (`.build/<triple>/release/prism` lies three levels
    /// under the repository), else the relative name, which `measure()` then reports missing.
    public static func defaultPeerScript(executable: String, workingDirectory: String = FileManager.default.currentDirectoryPath) -> String {
        if FileManager.default.fileExists(atPath: workingDirectory + "/" + peerScriptName) { return peerScriptName }
        var dir = PathNames.directory(of: executable)
        for _ in 0..<6 {
            let candidate = dir + "/" + peerScriptName
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            let up = PathNames.directory(of: dir)
            if up == dir { break }
            dir = up
        }
        return peerScriptName
    }

    public init(executable: String, model: String, threads: Int) {
        self.executable = executable
        self.model = model
        self.threads = threads
    }

    /// Runs every measurement, saying on stderr as each configuration is done.
    /// - Throws: `PrismError` naming the command line of a step that failed or printed no JSON object,
    ///   or a peer script that is not there.
    public func measure() throws -> BenchResults {
        // Checked before minutes of measurements: the default path is relative to the repository.
        if peerGGUF != nil, !FileManager.default.fileExists(atPath: peerScript) {
            throw PrismError("peer script \(peerScript) not found: give --peer-script PATH")
        }
        let threadArgs = ["--threads", "\(threads)"]
        let child = ["bench-child", "-m", model, "--tokens", "\(tokens)", "--repeats", "\(repeats)"] + threadArgs
        var configs: [(label: String, args: [String])] = [
            ("int8 weights, int8 activations", child), ("int8 weights, fp32 activations", child + ["--exact-activations"]),
        ]
        configs += budgets.map { ("int8, --max-memory \($0)", child + ["--max-memory", $0]) }
        configs += also.map { path in
            (PathNames.lastComponent(of: path), ["bench-child", "-m", path, "--tokens", "\(tokens)", "--repeats", "\(repeats)"] + threadArgs)
        }
        var results = BenchResults(threads: threads)
        for c in configs {
            var row = try Self.runJSON(executable, c.args)
            row["config"] = c.label
            results.runs.append(row)
            FileHandle.standardError.write(Data("bench: \(c.label) done\n".utf8))
        }
        results.readFloor = try Self.runJSON(executable, ["bench-child", "-m", model, "--read-floor", "--repeats", "\(repeats)"] + threadArgs)
        // The prisms' cost grows with the targets, the forward pass with the prompt: measured at a few lengths.
        let lengths = prismTokens.isEmpty ? Array(Set([tokens, 128])).sorted() : prismTokens
        results.prisms = try lengths.map { t in
            try Self.runJSON(executable, ["bench-child", "-m", model, "--prisms", "10", "--tokens", "\(t)", "--repeats", "\(repeats)"] + threadArgs)
        }
        results.peer = try peerGGUF.map { gguf in
            try Self.runJSON(
                "/usr/bin/env",
                [
                    "python3", peerScript, "--checkpoint", peerCheckpoint ?? "none", "--gguf", gguf, "--threads", "\(threads)",
                    "--prompt-tokens", "\(tokens)", "--repeats", "\(repeats)", "--json",
                ])
        }
        return results
    }

    /// Runs `exe args` and reads the one JSON object it prints.
    /// - Throws: `PrismError` naming the command line when it fails or prints no JSON object.
    public static func runJSON(_ exe: String, _ args: [String]) throws -> [String: Any] {
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

/// What a bench run measured: each configuration's object (with its label under "config"), the
/// read floor, the prisms' cost per prompt length, and the peer's (nil without one), as the
/// child processes printed them (times in ms, sizes in bytes).
public struct BenchResults {
    public var runs: [[String: Any]] = []
    public var readFloor: [String: Any] = [:]
    public var prisms: [[String: Any]] = []
    public var peer: [String: Any]?
    public var threads: Int

    public init(threads: Int) { self.threads = threads }

    /// `prism bench --json`'s object.
    public var json: [String: Any] {
        var obj: [String: Any] = ["runs": runs, "read_floor": readFloor, "prisms": prisms, "threads": threads]
        if let peer { obj["peer"] = peer }
        return obj
    }
}

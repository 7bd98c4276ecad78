import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Every command that runs the model stays within `--max-memory`, by the peak RSS the kernel
/// reports for the child process (file-backed weight pages included), on a gemma-shaped model
/// larger than the budget: a large vocabulary (the unembedding is most of the file, as in
/// gemma-2b) over a few layers, converted to int8 as users run it.
final class BudgetTests: XCTestCase {
    /// 131072 x 512 unembedding and 4 layers: 87 MB as int8, against a 72 MiB budget.
    static let shape = (vocab: 131_072, d: 512, layers: 4, heads: 4, kvHeads: 1, headDim: 128, ff: 2048)
    static let budgetMiB = 72

    static var model: String?
    static var modelError: Error?
    var work = ""

    override class func setUp() {
        super.setUp()
        do { model = try makeModel() } catch { modelError = error }
    }

    override class func tearDown() {
        if let model { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: model).deletingLastPathComponent().path) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        work = NSTemporaryDirectory() + "budget-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: work) }

    /// 32 token ids inside the fixture tokenizer's vocabulary, like the gemma-2b measurements.
    static let ids = (0..<32).map { String(2 + ($0 * 37) % 1500) }.joined(separator: ",")

    func testModelIsLargerThanTheBudget() throws {
        let path = try XCTUnwrap(Self.model, "\(String(describing: Self.modelError))")
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertGreaterThan(size, Self.budgetMiB << 20, "the budget must be smaller than the model for the test to mean anything")
    }

    func testLogitsGenerateRunStayWithinBudget() throws {
        try assertWithinBudget("logits", ["logits", "--ids", Self.ids])
        try assertWithinBudget("generate", ["generate", "--ids", Self.ids, "--max-tokens", "3"])
        try assertWithinBudget("run", ["run", "--ids", Self.ids, "-o", work + "/run.acts"])
    }

    func testPrismsStayWithinBudget() throws {
        try assertWithinBudget(
            "decompose",
            [
                "decompose", "--ids", Self.ids, "--target", "1000", "--target", "1001", "--target", "1002",
                "--detail", "full", "--json",
            ])
        try assertWithinBudget("paths", ["paths", "--ids", Self.ids, "--target", "1000", "--layer", "2", "--head", "1", "--source", "5"])
    }

    /// The lens reads every point out over the whole vocabulary.
    func testLensStaysWithinBudget() throws {
        try assertWithinBudget("lens", ["lens", "--ids", Self.ids, "--target", "1000"])
        try assertWithinBudget("run", ["run", "--ids", Self.ids, "-o", work + "/lens.acts"])
        try assertWithinBudget("lens --acts", ["lens", "--acts", work + "/lens.acts", "--target", "1000"])
        // Every position at once: 32 x 9 points read out over the vocabulary, in narrower tiles.
        try assertWithinBudget(
            "lens --all-positions", ["lens", "--ids", Self.ids, "--target", "1000", "--target-diff", "#1001", "#1002", "--all-positions", "--json"])
    }

    func testStudiesStayWithinBudget() throws {
        for study in ["capitals", "addition", "digits"] {
            try assertWithinBudget("study \(study)", ["study", study, "-o", work + "/study-\(study)"])
        }
    }

    /// 50 prompts of 6 to 24 tokens, three targets each.
    func testBatchStaysWithinBudget() throws {
        var generator = SplitMix64(seed: 7)
        var lines: [String] = []
        for i in 0..<50 {
            let n = 6 + Int(generator.next() % 19)
            let ids = [2] + (1..<n).map { _ in 3 + Int(generator.next() % 1500) }
            lines.append("{\"id\": \"p\(i)\", \"ids\": \(ids), \"target_ids\": [1000, 1001, 1002]}")
        }
        try lines.joined(separator: "\n").appending("\n").write(toFile: work + "/in.jsonl", atomically: true, encoding: .utf8)
        try assertWithinBudget("batch", ["batch", "--input", work + "/in.jsonl", "--output", work + "/out.jsonl", "--quiet"])
        let out = try String(contentsOfFile: work + "/out.jsonl", encoding: .utf8)
        XCTAssertEqual(out.split(separator: "\n").count, 50)
        // Every term of every prompt: half a megabyte of JSON a line, held until its chunk is written.
        try assertWithinBudget(
            "batch --detail full", ["batch", "--input", work + "/in.jsonl", "--output", work + "/full.jsonl", "--detail", "full", "--quiet"])
        let full = try String(contentsOfFile: work + "/full.jsonl", encoding: .utf8)
        XCTAssertEqual(full.split(separator: "\n").count, 50)
    }

    // MARK: - helpers

    /// Runs `prism ARGS -m MODEL --max-memory BUDGET` as its own child and checks that it succeeds
    /// and that its peak RSS (wait4's ru_maxrss: this child only) is within the budget.
    func assertWithinBudget(_ name: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try XCTUnwrap(Self.model, "no test model: \(String(describing: Self.modelError))", file: file, line: line)
        let exe = try XCTUnwrap(CLIRunner.executable, "prism executable not found", file: file, line: line)
        let budget = Self.budgetMiB << 20
        let r = try ChildProcess.run(exe, args + ["-m", model, "--max-memory", "\(Self.budgetMiB)MiB", "--stats"], in: work)
        XCTAssertEqual(r.status, 0, "\(name) failed: \(r.stderr)", file: file, line: line)
        // wait4's ru_maxrss starts at this process's resident size when it spawns the child: at or
        // under that floor it says nothing, and the child's own high-water mark (VmHWM, fresh at
        // exec), which `--stats` prints, is the measure.
        let floored = r.peakRSS <= r.parentRSS + (1 << 20)
        var peak = r.peakRSS
        if floored {
            peak = try XCTUnwrap(Self.statsPeak(r.stderr), "no stats line in: \(r.stderr)", file: file, line: line)
        }
        print(
            "budget \(Self.budgetMiB) MiB: \(name) peak RSS \(String(format: "%.1f", Double(peak) / 1048576)) MiB (\(floored ? "the child's VmHWM; wait4 is floored by" : "wait4; this process holds") \(r.parentRSS >> 20) MiB)"
        )
        XCTAssertLessThanOrEqual(
            peak, budget,
            "\(name): peak RSS \(peak >> 20) MiB is over the \(Self.budgetMiB) MiB budget", file: file, line: line)
    }

    /// The bytes of the last `peak RSS N.NN MiB` a `--stats` line printed.
    static func statsPeak(_ stderr: String) -> Int? {
        guard let range = stderr.range(of: "peak RSS ", options: .backwards) else { return nil }
        let rest = stderr[range.upperBound...].split(separator: " ")
        guard rest.count >= 2, let v = Double(rest[0]) else { return nil }
        let unit = rest[1].trimmingCharacters(in: CharacterSet(charactersIn: ",\n"))
        let scales: [String: Double] = ["B": 1, "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824]
        let scale = scales[unit] ?? .nan
        return scale.isNaN ? nil : Int(v * scale)
    }

    /// Writes the bf16 checkpoint (config, weights, the fixture tokenizer) and converts it to int8.
    static func makeModel() throws -> String {
        let s = shape
        let dir = NSTemporaryDirectory() + "budget-model-\(UUID().uuidString)"
        let ck = dir + "/checkpoint"
        try FileManager.default.createDirectory(atPath: ck, withIntermediateDirectories: true)
        let config: [String: Any] = [
            "architectures": ["GemmaForCausalLM"], "model_type": "gemma", "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
            "hidden_size": s.d, "intermediate_size": s.ff, "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
            "num_key_value_heads": s.kvHeads, "head_dim": s.headDim, "vocab_size": s.vocab, "max_position_embeddings": 256,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "gelu", "torch_dtype": "bfloat16",
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: ck + "/config.json"))
        try FileManager.default.copyItem(atPath: CLIRunner.fixtures + "/tiny-f32/tokenizer.json", toPath: ck + "/tokenizer.json")
        var tensors: [(String, [Int])] = [("model.embed_tokens.weight", [s.vocab, s.d]), ("model.norm.weight", [s.d])]
        let qw = s.heads * s.headDim, kvw = s.kvHeads * s.headDim
        for l in 0..<s.layers {
            let p = "model.layers.\(l)."
            tensors += [
                (p + "input_layernorm.weight", [s.d]), (p + "post_attention_layernorm.weight", [s.d]),
                (p + "self_attn.q_proj.weight", [qw, s.d]), (p + "self_attn.k_proj.weight", [kvw, s.d]),
                (p + "self_attn.v_proj.weight", [kvw, s.d]), (p + "self_attn.o_proj.weight", [s.d, qw]),
                (p + "mlp.gate_proj.weight", [s.ff, s.d]), (p + "mlp.up_proj.weight", [s.ff, s.d]),
                (p + "mlp.down_proj.weight", [s.d, s.ff]),
            ]
        }
        try writeSafeTensors(ck + "/model.safetensors", tensors)
        let out = dir + "/model.prism"
        let r = try CLIRunner.runProcess(try XCTUnwrap(CLIRunner.executable), ["convert", ck, "-o", out, "--quiet"])
        guard r.status == 0 else { throw NSError(domain: "BudgetTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "convert failed: \(r.stderr)"]) }
        try FileManager.default.removeItem(atPath: ck)
        return out
    }

    /// A bf16 safetensors file of random weights (uniform in +-0.05; norm gains near 0, as Gemma
    /// stores `w` of `1 + w`), written a tensor at a time.
    static func writeSafeTensors(_ path: String, _ tensors: [(String, [Int])]) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for (name, shape) in tensors {
            let bytes = shape.reduce(1, *) * 2
            header[name] = ["dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw NSError(domain: "BudgetTests", code: 2, userInfo: [NSLocalizedDescriptionKey: "cannot create \(path)"])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var length = UInt64(json.count).littleEndian
        try handle.write(contentsOf: Data(bytes: &length, count: 8))
        try handle.write(contentsOf: json)
        var generator = SplitMix64(seed: 1)
        // A slice at a time: the test process stays small (its RSS is a floor under the children's).
        let slice = 1 << 20
        for (name, shape) in tensors {
            let scale: Float = name.hasSuffix("norm.weight") ? 0.01 : 0.05
            var left = shape.reduce(1, *)
            while left > 0 {
                let n = min(left, slice)
                var values = [UInt16](repeating: 0, count: n)
                for i in 0..<n {
                    let u = Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1
                    values[i] = UInt16((u * scale).bitPattern >> 16)
                }
                try handle.write(contentsOf: values.withUnsafeBytes { Data($0) })
                left -= n
            }
        }
    }
}

/// A deterministic 64-bit generator (SplitMix64): the same weights on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A child process whose own peak RSS is known: spawned directly and reaped with `wait4`, whose
/// rusage covers that child alone (RUSAGE_CHILDREN would be the maximum over every child so far).
///
/// Linux starts a child's peak at its parent's: exec records the old memory map's high-water mark
/// (the parent's, for posix_spawn's vfork) as the new program's peak. So this process's own
/// high-water mark is reset to its current RSS first (`/proc/self/clear_refs`, "5"); what the child
/// reports is then at least `parentRSS`, and exactly its own peak whenever larger.
enum ChildProcess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        /// ru_maxrss of the child, in bytes.
        let peakRSS: Int
        /// This process's RSS when the child started: a floor under `peakRSS`.
        let parentRSS: Int
    }

    static func run(_ exe: String, _ args: [String], in dir: String) throws -> Result {
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let parentRSS = try currentRSS()
        let outPath = dir + "/child.out", errPath = dir + "/child.err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, environ)
        guard rc == 0 else { throw NSError(domain: "ChildProcess", code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(exe): \(rc)"]) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw NSError(domain: "ChildProcess", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "wait4 failed"]) }
        }
        // Exit code when it exited; 128 + signal when a signal ended it.
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = try String(contentsOfFile: outPath, encoding: .utf8)
        let err = try String(contentsOfFile: errPath, encoding: .utf8)
        return Result(status: code, stdout: out, stderr: err, peakRSS: Int(usage.ru_maxrss) * 1024, parentRSS: parentRSS)
    }

    /// This process's resident set, from /proc/self/statm (pages).
    static func currentRSS() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { throw NSError(domain: "ChildProcess", code: 3) }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

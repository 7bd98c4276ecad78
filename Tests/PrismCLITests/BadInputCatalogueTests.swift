import Foundation
import PrismFormats
import XCTest

/// The README's "Bad input" catalogue, one test per entry, run on the real binary: each bad
/// input gives exactly one line `error: ...` (or `Error: ...` for argument errors) and exit code
/// 1 (64 for argument errors), never a crash, and leaves nothing half-written under an output's
/// final name. The test names are the ones the README's table cites.
final class BadInputCatalogueTests: XCTestCase {
    var dir = ""
    let f32 = CLIRunner.fixtures + "/tiny-f32"
    let bf16 = CLIRunner.fixtures + "/tiny-bf16"

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "catalogue-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: helpers

    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIRunner.Result {
        try CLIRunner.run(args, file: file, line: line)
    }

    func assertError(_ args: [String], _ needle: String, status: Int32 = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args, file: file, line: line)
        CLIRunner.assertCleanError(r, contains: needle, file: file, line: line)
        XCTAssertEqual(r.status, status, "exit status for \(args)", file: file, line: line)
    }

    /// Runs prism with its standard output on /dev/full (every write fails with ENOSPC).
    func runToDevFull(_ args: [String]) throws -> CLIRunner.Result {
        try XCTSkipUnless(FileManager.default.isWritableFile(atPath: "/dev/full"), "no /dev/full")
        let exe = try XCTUnwrap(CLIRunner.executable)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/full"))
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIRunner.Result(status: p.terminationStatus, stdout: "", stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs prism with files limited to `blocks` x 512 bytes (RLIMIT_FSIZE, SIGXFSZ ignored): a
    /// write past the limit fails as it would on a full disk (EFBIG instead of ENOSPC), without
    /// needing a small file system or root. stdout/stderr are pipes, which the limit ignores.
    func runWithFileSizeLimit(_ blocks: Int, _ args: [String]) throws -> CLIRunner.Result {
        let exe = try XCTUnwrap(CLIRunner.executable)
        return try CLIRunner.runProcess("/bin/sh", ["-c", "trap '' XFSZ; ulimit -f \(blocks) && exec \"$0\" \"$@\"", exe] + args)
    }

    func copy(_ fixture: String) throws -> String {
        let dst = dir + "/" + (fixture as NSString).lastPathComponent
        try FileManager.default.copyItem(atPath: fixture, toPath: dst)
        return dst
    }

    func truncate(_ path: String, keeping fraction: Double) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(Int(Double(data.count) * fraction)).write(to: URL(fileURLWithPath: path))
    }

    /// Rewrites the JSON header of a safetensors file (the data section is kept as it is).
    func rewriteHeader(_ path: String, _ edit: (inout [String: Any]) throws -> Void) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        try edit(&header)
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json
        out += bytes[(8 + n)...]
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    func convertF32() throws -> String {
        let out = dir + "/m.prism"
        let r = try run(["convert", f32, "-o", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    func assertNoOutput(_ paths: [String], file: StaticString = #filePath, line: UInt = #line) {
        for p in paths { XCTAssertFalse(FileManager.default.fileExists(atPath: p), "\(p) left behind", file: file, line: line) }
    }

    // MARK: models and checkpoints

    func testMissingModel() throws {
        try assertError(["logits", "-m", dir + "/nonexistent", "--ids", "2"], "model not found: \(dir)/nonexistent")
    }

    func testNotAModelFile() throws {
        let path = dir + "/notes.prism"
        try Data("these are not weights, just some text that is long enough to hold a header ....".utf8).write(to: URL(fileURLWithPath: path))
        try assertError(["logits", "-m", path, "--ids", "2"], "not a logit-prisms model file (bad magic)")
        try assertError(["inspect", path], "bad magic")
    }

    func testTruncatedOrCorruptModelFile() throws {
        let model = try convertF32()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)))
        bytes[bytes.count / 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: model))
        try assertError(["verify", model], "checksum mismatch")
        try Data(bytes.prefix(bytes.count - 10)).write(to: URL(fileURLWithPath: model))
        try assertError(["logits", "-m", model, "--ids", "2"], "truncated or extended model file (\(bytes.count - 10) bytes, header says \(bytes.count))")
        try Data(bytes.prefix(40)).write(to: URL(fileURLWithPath: model))
        try assertError(["logits", "-m", model, "--ids", "2"], "truncated model file (no complete header)")
    }

    func testCorruptSafetensors() throws {
        let ck = try copy(bf16)
        let shard = ck + "/model-00002-of-00002.safetensors"
        let original = try Data(contentsOf: URL(fileURLWithPath: shard))
        // Truncated shard: the data section is shorter than the tensors it lists.
        try truncate(shard, keeping: 0.5)
        try assertError(["logits", "-m", ck, "--ids", "2,5"], "model-00002-of-00002.safetensors: tensor")
        // Offsets past the end of the file.
        try original.write(to: URL(fileURLWithPath: shard))
        try rewriteHeader(shard) { h in
            let (name, e) = try XCTUnwrap(h.first { $0.key != "__metadata__" })
            var entry = try XCTUnwrap(e as? [String: Any])
            entry["data_offsets"] = [0, 1 << 40]
            h[name] = entry
        }
        try assertError(["logits", "-m", ck, "--ids", "2,5"], "out of bounds")
        // Two tensors over the same bytes.
        try original.write(to: URL(fileURLWithPath: shard))
        try rewriteHeader(shard) { h in
            let names = h.keys.filter { $0 != "__metadata__" }.sorted()
            var a = try XCTUnwrap(h[names[0]] as? [String: Any]), b = try XCTUnwrap(h[names[1]] as? [String: Any])
            let offsA = try XCTUnwrap(a["data_offsets"] as? [Int]), offsB = try XCTUnwrap(b["data_offsets"] as? [Int])
            // b keeps its length but starts inside a.
            let start = offsA[0] + 2
            b["data_offsets"] = [start, start + offsB[1] - offsB[0]]
            a["data_offsets"] = offsA
            h[names[1]] = b
        }
        try assertError(["logits", "-m", ck, "--ids", "2,5"], "overlap")
        // An unknown dtype.
        try original.write(to: URL(fileURLWithPath: shard))
        try rewriteHeader(shard) { h in
            let name = try XCTUnwrap(h.keys.filter { $0 != "__metadata__" }.sorted().first)
            var e = try XCTUnwrap(h[name] as? [String: Any])
            e["dtype"] = "Q4_K"
            h[name] = e
        }
        try assertError(["logits", "-m", ck, "--ids", "2,5"], "unknown dtype Q4_K")
    }

    func testShardMissing() throws {
        let ck = try copy(bf16)
        try FileManager.default.removeItem(atPath: ck + "/model-00001-of-00002.safetensors")
        try assertError(["logits", "-m", ck, "--ids", "2,5"], "shard model-00001-of-00002.safetensors named in the index is missing")
    }

    func testWrongModelType() throws {
        let ck = try copy(f32)
        let cfg = ck + "/config.json"
        var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cfg))) as? [String: Any])
        obj["model_type"] = "llama"
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        try assertError(
            ["logits", "-m", ck, "--ids", "2"], "config.json: unsupported model_type 'llama' (this tool runs gemma, gemma2, gemma3_text and gemma3)")
        // A Gemma 2 config over a Gemma 1 checkpoint: its architectures say which class it is.
        obj["model_type"] = "gemma2"
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        try assertError(["logits", "-m", ck, "--ids", "2"], "config.json: architectures [\"GemmaForCausalLM\"] do not include Gemma2ForCausalLM")
        // An absent key takes transformers' default (hidden_size 3072 for GemmaConfig), which
        // these weights then contradict, by name.
        obj["model_type"] = "gemma"
        obj["hidden_size"] = nil
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        try assertError(
            ["logits", "-m", ck, "--ids", "2"],
            "tensor model.embed_tokens.weight has shape [1517, 64], but config.json (hidden_size, intermediate_size, heads, vocab_size) needs [1517, 3072]")
        // A config whose numbers would divide by zero or overflow is refused by name (found by fuzzing).
        obj["hidden_size"] = 64
        obj["num_attention_heads"] = 0
        obj["head_dim"] = nil
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        try assertError(["logits", "-m", ck, "--ids", "2"], "config.json: num_attention_heads = 0 is out of range")
    }

    func testUnexpectedTensor() throws {
        let ck = try copy(f32)
        try rewriteHeader(ck + "/model.safetensors") { h in
            h["model.layers.0.self_attn.rotary_emb.inv_freq"] = ["dtype": "F32", "shape": [0], "data_offsets": [0, 0]]
        }
        try assertError(
            ["logits", "-m", ck, "--ids", "2"],
            "unexpected tensor model.layers.0.self_attn.rotary_emb.inv_freq in \(ck) (not part of GemmaForCausalLM with this config)")
        try assertError(["convert", ck, "-o", dir + "/x.prism"], "unexpected tensor model.layers.0.self_attn.rotary_emb.inv_freq")
        assertNoOutput([dir + "/x.prism", dir + "/x.prism.partial"])
    }

    func testTensorWithWrongShape() throws {
        let ck = try copy(f32)
        // up_proj is [128, 64]; [64, 128] has the same bytes, so only the shape check can object.
        try rewriteHeader(ck + "/model.safetensors") { h in
            var e = try XCTUnwrap(h["model.layers.1.mlp.up_proj.weight"] as? [String: Any])
            XCTAssertEqual(e["shape"] as? [Int], [128, 64])
            e["shape"] = [64, 128]
            h["model.layers.1.mlp.up_proj.weight"] = e
        }
        try assertError(
            ["logits", "-m", ck, "--ids", "2"],
            "tensor model.layers.1.mlp.up_proj.weight has shape [64, 128], but config.json (hidden_size, intermediate_size, heads, vocab_size) needs [128, 64]")
        try assertError(
            ["convert", ck, "-o", dir + "/x.prism"],
            "model.layers.1.mlp.up_proj.weight has shape [64, 128], but config.json (hidden_size, intermediate_size, heads, vocab_size) needs [128, 64]")
        assertNoOutput([dir + "/x.prism", dir + "/x.prism.partial"])
        // A missing tensor is named too.
        let ck2 = dir + "/missing"
        try FileManager.default.copyItem(atPath: f32, toPath: ck2)
        try rewriteHeader(ck2 + "/model.safetensors") { h in h["model.norm.weight"] = nil }
        try assertError(["logits", "-m", ck2, "--ids", "2"], "missing tensor model.norm.weight")
    }

    func testMalformedTokenizer() throws {
        let ck = try copy(f32)
        try Data(#"{"version": "1.0", "model": {"type": "WordPiece"}}"#.utf8).write(to: URL(fileURLWithPath: ck + "/tokenizer.json"))
        try assertError(["tokenize", "-m", ck, "--", "hello"], "\(ck)/tokenizer.json: ")
        try assertError(["decompose", "-m", ck, "--prompt", "hello", "--target", "5"], "tokenizer.json: ")
    }

    // MARK: partial files

    /// A fresh copy of `fixture` with `file` cut to `fraction` of its bytes: running `args(copy)`
    /// must fail with `needle(copy)`.
    func assertTruncated(
        _ fixture: String, _ file: String, keeping fraction: Double, _ args: (String) -> [String],
        _ needle: (String) -> String, line: UInt = #line
    ) throws {
        let ck = try copy(fixture)
        defer { try? FileManager.default.removeItem(atPath: ck) }
        try truncate(ck + "/" + file, keeping: fraction)
        try assertError(args(ck), needle(ck), line: line)
    }

    func testTruncatedFiles() throws {
        let logits = { (ck: String) in ["logits", "-m", ck, "--ids", "2"] }
        // config.json cut in the middle.
        try assertTruncated(f32, "config.json", keeping: 0.5, logits) { _ in "config.json: not valid JSON" }
        // model.safetensors cut in the middle of its header, and in its data.
        try assertTruncated(f32, "model.safetensors", keeping: 0.001, logits) { _ in "model.safetensors: truncated safetensors file" }
        try assertTruncated(f32, "model.safetensors", keeping: 0.9, logits) { _ in "out of bounds" }
        // tokenizer.json cut in the middle.
        try assertTruncated(f32, "tokenizer.json", keeping: 0.5, { ["tokenize", "-m", $0, "--", "hello"] }) { "\($0)/tokenizer.json: " }
        // model.safetensors.index.json cut in the middle.
        try assertTruncated(bf16, "model.safetensors.index.json", keeping: 0.5, logits) { _ in "model.safetensors.index.json: not a JSON object" }
        // A .prism cut short (also in testTruncatedOrCorruptModelFile), and an empty one.
        let model = try convertF32()
        try truncate(model, keeping: 0.7)
        try assertError(["logits", "-m", model, "--ids", "2"], "truncated or extended model file")
        try Data().write(to: URL(fileURLWithPath: model))
        try assertError(["logits", "-m", model, "--ids", "2"], "truncated model file (no complete header)")
        // An activation store cut short.
        let acts = dir + "/run.acts"
        XCTAssertEqual(try run(["run", "-m", f32, "--ids", "2,5,7", "-o", acts]).status, 0)
        try truncate(acts, keeping: 0.6)
        try assertError(["decompose", "-m", f32, "--acts", acts, "--target", "5"], "\(acts): truncated activation store")
        try Data(try Data(contentsOf: URL(fileURLWithPath: acts)).prefix(40)).write(to: URL(fileURLWithPath: acts))
        try assertError(["decompose", "-m", f32, "--acts", acts, "--target", "5"], "truncated activation store (no complete header)")
        // A batch input whose last line was cut: that record becomes an error line, the rest run.
        let input = dir + "/in.jsonl"
        try Data(("{\"id\": \"a\", \"ids\": [2, 5, 7], \"target_ids\": [5]}\n{\"id\": \"b\", \"ids\": [2, 5").utf8).write(to: URL(fileURLWithPath: input))
        let r = try run(["batch", "-m", f32, "--input", input, "--output", dir + "/out.jsonl", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines.contains { $0.contains("\"line\":2") && $0.contains("\"id\":null") && $0.contains("line 2 is not a JSON object") }, "\(lines)")
    }

    // MARK: prompts, tokens, positions, budgets

    func testEmptyPrompt() throws {
        try assertError(["decompose", "-m", f32, "--prompt", "", "--target", "5"], "empty prompt: give some text with --prompt")
        try assertError(["logits", "-m", f32, "--prompt", ""], "empty prompt")
    }

    func testPromptBeyondMaxPositionEmbeddings() throws {
        let long = Array(repeating: "5", count: 200).joined(separator: ",")
        try assertError(["logits", "-m", f32, "--ids", long], "sequence of 200 tokens exceeds max_position_embeddings 128")
        let text = Array(repeating: "Paris", count: 300).joined(separator: " ")
        try assertError(["decompose", "-m", f32, "--prompt", text, "--target", "5"], "exceeds max_position_embeddings 128")
    }

    func testTokenIdOutsideVocabulary() throws {
        try assertError(["logits", "-m", f32, "--ids", "2,5000"], "token id 5000 is outside the vocabulary (0..<1517)")
        try assertError(["decompose", "-m", f32, "--ids", "2,5", "--target", "99999"], "outside the vocabulary")
        try assertError(["detokenize", "-m", f32, "2,99999"], "99999")
    }

    func testTargetNotOneToken() throws {
        let r = try run(["decompose", "-m", f32, "--prompt", "The capital of France is", "--target-token", " Parisian capital"])
        CLIRunner.assertCleanError(r, contains: "target ' Parisian capital' is 8 tokens (▁Paris|i|an|▁ca|p|it|a|l), not one; give a single token or its id")
        XCTAssertEqual(r.status, 1)
    }

    func testPositionOutOfRange() throws {
        try assertError(
            ["decompose", "-m", f32, "--ids", "2,10", "--target", "5", "--position", "7"],
            "position 7 is out of range: the prompt has 2 tokens (0..1, or -2..-1 counting from the end, -1 the last)")
        try assertError(["decompose", "-m", f32, "--ids", "2,10", "--target", "5", "--position=-3"], "position -3 is out of range")
    }

    func testBudgetTooSmall() throws {
        try assertError(
            ["logits", "-m", f32, "--ids", "2,5", "--max-memory", "1KiB"], "--max-memory 1.00 KiB is too small: this model and prompt need at least")
    }

    func testMalformedSize() throws {
        // An argument error: exit 64, `Error: ...` first, then the usage.
        let r = try run(["logits", "-m", f32, "--ids", "2,5", "--max-memory", "12XB"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.hasPrefix("Error: malformed size '12XB': unknown unit 'xb'; use B, KiB, MiB, GiB or TiB\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Usage: prism logits"), r.stderr)
    }

    // MARK: outputs

    func testUnwritableOutput() throws {
        try assertError(["convert", f32, "-o", "/nonexistent-dir/x.prism"], "cannot write /nonexistent-dir/x.prism: directory /nonexistent-dir does not exist")
        try assertError(["run", "-m", f32, "--ids", "2,5", "-o", "/nonexistent-dir/x.acts"], "directory /nonexistent-dir does not exist")
        let input = dir + "/in.jsonl"
        try Data(#"{"id": "a", "ids": [2, 5, 7], "target_ids": [5]}"#.utf8).write(to: URL(fileURLWithPath: input))
        try assertError(["batch", "-m", f32, "--input", input, "--output", "/nonexistent-dir/out.jsonl"], "/nonexistent-dir/out.jsonl")
        try assertError(
            ["decompose", "-m", f32, "--ids", "2,5", "--target", "5", "--csv", "/proc/version/x"],
            "cannot write /proc/version/x: /proc/version is not a directory")
    }

    func testDiskFullStandardOutput() throws {
        for args in [
            ["decompose", "-m", f32, "--ids", "2,5,7", "--target", "5", "--json", "--detail", "full"],
            ["decompose", "-m", f32, "--ids", "2,5,7", "--target", "5"],
            ["logits", "-m", f32, "--ids", "2,5,7", "--json"],
            ["tokenize", "-m", f32, "--", "The capital of France is"],
        ] {
            let r = try runToDevFull(args)
            CLIRunner.assertCleanError(r, contains: "cannot write standard output: No space left on device")
            XCTAssertEqual(r.status, 1, "\(args)")
        }
    }

    func testDiskFullFiles() throws {
        // convert -o: the error names the partial file, which is removed; nothing under the final name.
        let model = dir + "/m.prism"
        var r = try runWithFileSizeLimit(16, ["convert", f32, "-o", model, "--quiet"])
        CLIRunner.assertCleanError(r, contains: "cannot write \(model): File too large")
        assertNoOutput([model, model + ".partial"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("m.prism") }, [], "temporary files left")
        // run -o
        let acts = dir + "/r.acts"
        r = try runWithFileSizeLimit(8, ["run", "-m", f32, "--ids", "2,5,7", "-o", acts])
        CLIRunner.assertCleanError(r, contains: "cannot write \(acts): File too large")
        assertNoOutput([acts, acts + ".partial"])
        // decompose --csv / --npy: the files of one output are written as a set, or none is.
        for (flag, files) in [
            ("--csv", ["terms.csv", "heads.csv", "head_sources.csv", "neurons.csv", "totals.csv", "targets.json"]),
            ("--npy", ["terms.npy", "heads.npy", "head_sources.npy", "neurons.npy", "logits.npy", "ids.npy", "targets.json"]),
        ] {
            let out = dir + "/out" + flag
            r = try runWithFileSizeLimit(4, ["decompose", "-m", f32, "--ids", "2,5,7", "--target", "5", "--target", "6", flag, out])
            CLIRunner.assertCleanError(r, contains: "cannot write \(out)/")
            XCTAssertTrue(r.stderr.contains("File too large"), r.stderr)
            assertNoOutput(files.map { out + "/" + $0 } + [out])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [], "temporary files left in \(dir)")
        }
        // study -o: the report, its figures and their data are written as a set, or none is (16 KiB
        // lets the first figures through and stops a later one).
        let report = dir + "/study"
        r = try runWithFileSizeLimit(32, ["study", "addition", "-m", f32, "-o", report])
        CLIRunner.assertCleanError(r, contains: "cannot write \(report)/")
        XCTAssertTrue(r.stderr.contains("File too large"), r.stderr)
        assertNoOutput([report])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [], "temporary files left in \(dir)")
        // batch: the output keeps only committed lines (none here); a rerun with room completes it.
        let input = dir + "/in.jsonl"
        try Data("{\"id\": \"a\", \"ids\": [2, 5, 7], \"target_ids\": [5]}\n{\"id\": \"b\", \"ids\": [2, 5, 9], \"target_ids\": [6]}\n".utf8)
            .write(to: URL(fileURLWithPath: input))
        let out = dir + "/out.jsonl"
        r = try runWithFileSizeLimit(1, ["batch", "-m", f32, "--input", input, "--output", out, "--quiet", "--detail", "full"])
        CLIRunner.assertCleanError(r, contains: "writing \(out) failed: File too large")
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int), 0, "torn lines left in \(out)")
        r = try run(["batch", "-m", f32, "--input", input, "--output", out, "--quiet", "--detail", "full"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count, 2)
    }

    // MARK: activations and batch jobs

    func testActivationsFromOtherWeights() throws {
        let acts = dir + "/run.acts"
        XCTAssertEqual(try run(["run", "-m", f32, "--ids", "2,5,7", "-o", acts]).status, 0)
        try assertError(["decompose", "-m", bf16, "--acts", acts, "--target", "5"], "\(acts) was recorded from \(f32) (fingerprint")
        // A corrupt chunk is named.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: acts)))
        bytes[100] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: acts))
        try assertError(["decompose", "-m", f32, "--acts", acts, "--target", "5"], "is corrupt (checksum mismatch)")
    }

    /// A byte flipped inside the embedded tokenizer: named as such (it surfaced as a JSON error
    /// that named neither the file nor the cause).
    func testCorruptEmbeddedTokenizerIsNamed() throws {
        let model = dir + "/m.prism"
        XCTAssertEqual(try run(["convert", f32, "-o", model, "--quiet"]).status, 0)
        let part = try XCTUnwrap(try ModelFile(path: model).directory.tokenizer)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)))
        bytes[part.offset + part.length / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: model))
        try assertError(["logits", "-m", model, "--ids", "2,5"], "\(model): the embedded tokenizer is corrupt (checksum mismatch)")
    }

    func testActivationsWithWrongShapes() throws {
        // A store that claims the right weights (the fingerprint is only a string in the file)
        // but holds tensors the model could not have recorded: refused before the prisms index rows.
        let acts = dir + "/run.acts"
        XCTAssertEqual(try run(["run", "-m", f32, "--ids", "2,5,7", "-o", acts]).status, 0)
        let reader = try ActivationStoreReader(path: acts)
        func rewrite(to path: String, ids: [Int], _ edit: (String, [Int], [Float]) -> ([Int], [Float])) throws {
            let w = try ActivationStoreWriter(path: path, force: true)
            for name in reader.names {
                let t = try reader.tensor(name)
                let (shape, values) = edit(name, t.shape, t.values)
                try values.withUnsafeBufferPointer { try w.add(name: name, shape: shape, values: $0) }
            }
            try w.finish(model: reader.index.model, modelPath: reader.index.modelPath, ids: ids)
        }
        let wrong = dir + "/wrong.acts"
        try rewrite(to: wrong, ids: reader.index.ids) { name, shape, values in
            name == "embed" ? ([shape[0], shape[1] - 1], Array(values.prefix(shape[0] * (shape[1] - 1)))) : (shape, values)
        }
        try assertError(["decompose", "-m", f32, "--acts", wrong, "--target", "5"], "\(wrong): activation embed has shape [3, 63], expected [3, 64]")
        // The same with the count kept ([3, 64] stored as [64, 3]): it passed the store's own checks
        // and crashed the prisms (index out of bounds) before the shapes were checked.
        let transposed = CLIRunner.fixtures + "/regressions/FuzzActivationStore/tiny-f32-embed-transposed.acts"
        try assertError(["decompose", "-m", f32, "--acts", transposed, "--target", "5"], "activation embed has shape [64, 3], expected [3, 64]")
        let badIds = dir + "/ids.acts"
        try rewrite(to: badIds, ids: [2, 5, 99999]) { (_, shape, values) in (shape, values) }
        try assertError(["decompose", "-m", f32, "--acts", badIds, "--target", "5"], "\(badIds): token id 99999 is outside the vocabulary (0..<1517)")
    }

    func testBatchBadLinesAndDuplicateIds() throws {
        let input = dir + "/in.jsonl"
        let lines = [
            #"{"id": "ok", "ids": [2, 5, 7], "target_ids": [5]}"#,
            #"{"id": "ok", "ids": [2, 5, 7], "target_ids": [6]}"#,
            #"{"id": "empty", "prompt": "", "targets": [" Paris"]}"#,
            #"{"id": "vocab", "ids": [2, 99999], "target_ids": [5]}"#,
            #"not json"#,
        ]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
        let out = dir + "/out.jsonl"
        let r = try run(["batch", "-m", f32, "--input", input, "--output", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Every input line gives one record, keyed by its line: a duplicate keeps its id (which
        // another record has) and a line with no readable id has "id": null.
        var records: [Int: [String: Any]] = [:]
        for line in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let n = try XCTUnwrap(obj["line"] as? Int)
            XCTAssertNil(records[n], "line \(n) twice")
            records[n] = obj
        }
        XCTAssertEqual(Set(records.keys), [1, 2, 3, 4, 5])
        XCTAssertNil(records[1]?["error"])
        XCTAssertEqual(records[1]?["id"] as? String, "ok")
        XCTAssertEqual(records[2]?["id"] as? String, "ok")
        XCTAssertTrue((records[2]?["error"] as? String)?.contains("duplicate id 'ok'") == true)
        XCTAssertTrue((records[3]?["error"] as? String)?.contains("empty prompt") == true)
        XCTAssertTrue((records[4]?["error"] as? String)?.contains("outside the vocabulary") == true)
        XCTAssertTrue(records[5]?["id"] is NSNull)
        XCTAssertTrue((records[5]?["error"] as? String)?.contains("line 5 is not a JSON object") == true)
    }

    func testBatchOutputFromAnotherInput() throws {
        let input = dir + "/in.jsonl", other = dir + "/other.jsonl", out = dir + "/out.jsonl"
        try Data(#"{"id": "a", "ids": [2, 5, 7], "target_ids": [5]}"#.utf8).write(to: URL(fileURLWithPath: input))
        try Data(#"{"id": "b", "ids": [2, 5, 9], "target_ids": [5]}"#.utf8).write(to: URL(fileURLWithPath: other))
        XCTAssertEqual(try run(["batch", "-m", f32, "--input", input, "--output", out, "--quiet"]).status, 0)
        try assertError(
            ["batch", "-m", f32, "--input", other, "--output", out, "--quiet"],
            "\(out) was written with another input (see \(out).journal); refusing to append")
        try assertError(["batch", "-m", bf16, "--input", input, "--output", out, "--quiet"], "refusing to append")
    }

    /// Bad GGUFs, each answered in one line: truncated, not a GGUF, another architecture,
    /// metadata of the wrong type, a tensor type this tool cannot read, a tensor outside the
    /// file (tools/make_gguf_bad_fixtures.py wrote the wrong files with llama.cpp's gguf writer).
    func testBadGGUF() throws {
        let good = CLIRunner.fixtures + "/gguf/types.gguf"
        let bad = CLIRunner.fixtures + "/gguf/bad"
        let out = dir + "/out.prism"
        let cut = dir + "/cut.gguf"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 10).write(to: URL(fileURLWithPath: cut))
        try assertError(["convert", cut, "-o", out], "cut.gguf: truncated")
        // The header and tensor infos intact, the data cut off: the first tensor is outside the file.
        let headerOnly = dir + "/header.gguf"
        try bytes.prefix(bytes.count - 2048).write(to: URL(fileURLWithPath: headerOnly))
        try assertError(["convert", headerOnly, "-o", out], "is outside the file")
        let magic = dir + "/magic.gguf"
        var wrong = bytes
        wrong[3] = UInt8(ascii: "X")
        try wrong.write(to: URL(fileURLWithPath: magic))
        try assertError(["convert", magic, "-o", out], "magic.gguf is neither a checkpoint directory nor a GGUF file")
        try assertError(
            ["convert", bad + "/arch-llama.gguf", "-o", out], "unsupported architecture 'llama' (this tool converts gemma, gemma2 and gemma3 GGUFs)")
        try assertError(["convert", bad + "/gemma3-metadata-type.gguf", "-o", out], "metadata gemma3.block_count has type string, expected an integer")
        try assertError(["convert", bad + "/gemma3-unsupported-type.gguf", "-o", out], "has ggml type IQ4_NL, which this tool cannot read")
        try assertError(["logits", "-m", good, "--ids", "2"], "is a GGUF file: convert it first")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is left under the output's name")
    }

    /// A study name that is not one is answered as such, not as an unknown option.
    func testUnknownStudy() throws {
        try assertError(
            ["study", "capital", "-m", f32], "unknown study 'capital' (the studies are capitals, addition, digits; did you mean capitals?)")
    }
}

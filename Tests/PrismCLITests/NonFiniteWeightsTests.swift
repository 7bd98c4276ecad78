import Foundation
import XCTest

/// Checkpoints with NaN, inf and huge (1e7) weights, run through the real binary: `convert`
/// names the first non-finite value or, with --allow-non-finite, keeps it and says so; a weight
/// int8 cannot scale keeps its tensor unquantized; `logits` and `decompose` never show another
/// number where the true one is NaN, and their JSON stays valid (NaN as the string "NaN").
final class NonFiniteWeightsTests: XCTestCase {
    var dir = ""
    let f32 = CLIRunner.fixtures + "/tiny-f32"
    let bf16 = CLIRunner.fixtures + "/tiny-bf16"
    let upProj = "model.layers.0.mlp.up_proj.weight"  // [128, 64] in tiny-f32
    let downProj = "model.layers.1.mlp.down_proj.weight"  // [64, 128]

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nonfinite-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: helpers

    /// A copy of a fixture checkpoint with `values` written into tensors: (tensor, row, column, value).
    /// Works on F32 and BF16 tensors, single file or shards (found through the index).
    func checkpoint(_ fixture: String, _ values: [(String, Int, Int, Float)]) throws -> String {
        let ck = dir + "/ck-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: fixture, toPath: ck)
        for (name, row, col, value) in values { try poke(ck, name, row, col, value) }
        return ck
    }

    func poke(_ ck: String, _ name: String, _ row: Int, _ col: Int, _ value: Float) throws {
        var shard = "model.safetensors"
        if let index = FileManager.default.contents(atPath: ck + "/model.safetensors.index.json") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: index) as? [String: Any])
            shard = try XCTUnwrap((obj["weight_map"] as? [String: String])?[name], "\(name) not in the index")
        }
        let path = ck + "/" + shard
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let entry = try XCTUnwrap(header[name] as? [String: Any], "\(name) not in \(shard)")
        let shape = try XCTUnwrap(entry["shape"] as? [Int])
        let start = try XCTUnwrap((entry["data_offsets"] as? [Int])?.first)
        let flat = row * (shape.count == 2 ? shape[1] : 1) + col
        switch entry["dtype"] as? String {
        case "F32":
            let at = 8 + n + start + 4 * flat
            withUnsafeBytes(of: value.bitPattern.littleEndian) { for i in 0..<4 { bytes[at + i] = $0[i] } }
        case "BF16":
            let at = 8 + n + start + 2 * flat
            withUnsafeBytes(of: UInt16(value.bitPattern >> 16).littleEndian) { for i in 0..<2 { bytes[at + i] = $0[i] } }
        default:
            XCTFail("unexpected dtype \(entry["dtype"] ?? "?")")
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func convert(_ ck: String, _ extra: [String] = []) throws -> (CLIRunner.Result, String) {
        let out = dir + "/m-\(UUID().uuidString).prism"
        return (try CLIRunner.run(["convert", ck, "-o", out, "--quiet"] + extra), out)
    }

    func json(_ r: CLIRunner.Result, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let parsed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        return try XCTUnwrap(parsed as? [String: Any], file: file, line: line)
    }

    /// The full last-position logits as numbers (NaN for the string "NaN").
    func lastLogits(_ model: String) throws -> [Double] {
        let obj = try json(try CLIRunner.run(["logits", "-m", model, "--ids", "2,17,42", "--full", "--json"]))
        let rows = try XCTUnwrap(obj["logits"] as? [[Any]])
        return try XCTUnwrap(rows.last).map { v in (v as? Double) ?? ((v as? String) == "NaN" ? .nan : .infinity) }
    }

    func encoding(of tensor: String, in model: String) throws -> String? {
        let obj = try json(try CLIRunner.run(["inspect", model, "--json"]))
        let tensors = try XCTUnwrap(obj["tensors"] as? [[String: Any]])
        return tensors.first { $0["name"] as? String == tensor }?["encoding"] as? String
    }

    // MARK: convert

    func testNonFiniteWeightIsAnErrorNamingTensorAndPosition() throws {
        let ck = try checkpoint(f32, [(upProj, 3, 5, .nan), (upProj, 9, 1, .infinity)])
        let (r, out) = try convert(ck)
        CLIRunner.assertCleanError(r, contains: "model.safetensors: tensor \(upProj): NaN at row 3, column 5 (flat index 197); pass --allow-non-finite")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output after the error")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial"), "no partial output after the error")

        // A norm weight (1-D): its index; a shard of a bf16 checkpoint: the shard's name; -inf spelled.
        let norm = try checkpoint(f32, [("model.norm.weight", 0, 17, -.infinity)])
        CLIRunner.assertCleanError(try convert(norm).0, contains: "tensor model.norm.weight: -inf at index 17;")
        let sharded = try checkpoint(bf16, [("model.layers.2.mlp.down_proj.weight", 1, 2, .nan)])
        CLIRunner.assertCleanError(
            try convert(sharded, ["--weights", "bf16"]).0,
            contains: "model-00002-of-00002.safetensors: tensor model.layers.2.mlp.down_proj.weight: NaN at row 1, column 2")
    }

    func testAllowNonFiniteConvertsAndSummaryMarksIt() throws {
        let ck = try checkpoint(f32, [(upProj, 3, 5, .nan), (upProj, 9, 1, .infinity), ("model.norm.weight", 0, 17, -.infinity)])
        let (r, out) = try convert(ck, ["--allow-non-finite"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("non-finite values kept: \(upProj): 2 (1 NaN, 1 inf)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("non-finite values kept: model.norm.weight: 1 (0 NaN, 1 inf)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("kept in f32, not int8: \(upProj): it holds NaN or inf"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "non-finite values kept:").count - 1, 2, "only the two tensors: \(r.stdout)")
        // The rewritten tensor replaced the int8 attempt cleanly: every checksum holds, and int8
        // stays the encoding of the others.
        XCTAssertEqual(try CLIRunner.run(["verify", out]).status, 0)
        XCTAssertEqual(try encoding(of: upProj, in: out), "f32")
        XCTAssertEqual(try encoding(of: "model.layers.0.mlp.gate_proj.weight", in: out), "q8")

        // From bf16 the exact encoding is bf16.
        let b = try checkpoint(bf16, [("model.layers.2.mlp.down_proj.weight", 1, 2, .nan)])
        let (rb, outB) = try convert(b, ["--allow-non-finite"])
        XCTAssertEqual(rb.status, 0, rb.stderr)
        XCTAssertTrue(rb.stdout.contains("kept in bf16, not int8: model.layers.2.mlp.down_proj.weight"), rb.stdout)
        XCTAssertEqual(try CLIRunner.run(["verify", outB]).status, 0)
    }

    func testHugeWeightKeepsItsTensorUnquantized() throws {
        // 1e7 / 127 = 78740 > 65504: that block's f16 scale would be inf.
        let ck = try checkpoint(f32, [(downProj, 7, 9, 1e7)])
        let (r, out) = try convert(ck)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("kept in f32, not int8: \(downProj): row 7 has |w| = 1.000e+07"), r.stdout)
        XCTAssertFalse(r.stdout.contains("non-finite"), r.stdout)
        XCTAssertEqual(try encoding(of: downProj, in: out), "f32")
        XCTAssertEqual(try encoding(of: upProj, in: out), "q8")
        XCTAssertEqual(try CLIRunner.run(["verify", out]).status, 0)

        // Its logits are finite and as close to the f32 conversion's as int8 is on the clean model.
        let (r32, out32) = try convert(ck, ["--weights", "f32"])
        XCTAssertEqual(r32.status, 0, r32.stderr)
        let (cleanQ, cleanQOut) = try convert(f32)
        let (clean32, clean32Out) = try convert(f32, ["--weights", "f32"])
        XCTAssertEqual(cleanQ.status + clean32.status, 0)
        let q = try lastLogits(out), exact = try lastLogits(out32)
        XCTAssertEqual(q.count, 1517)
        XCTAssertTrue(q.allSatisfy(\.isFinite), "int8 logits with a 1e7 weight must be finite")
        let cleanDiff = zip(try lastLogits(cleanQOut), try lastLogits(clean32Out)).map { abs($0 - $1) }.max() ?? 0
        let diff = zip(q, exact).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(diff, max(2 * cleanDiff, 1e-3), "int8 vs f32 with a 1e7 weight: \(diff); clean model: \(cleanDiff)")

        // A bf16 checkpoint keeps that tensor in bf16 (exact).
        let b = try checkpoint(bf16, [("model.layers.1.mlp.down_proj.weight", 7, 9, 1e7)])
        let (rb, _) = try convert(b)
        XCTAssertEqual(rb.status, 0, rb.stderr)
        XCTAssertTrue(rb.stdout.contains("kept in bf16, not int8: model.layers.1.mlp.down_proj.weight: row 7"), rb.stdout)

        // --weights bf16 from f32: a finite weight bf16 would round to inf keeps its tensor in f32.
        let huge = try checkpoint(f32, [(downProj, 2, 3, 3.4e38)])
        let (rh, outH) = try convert(huge, ["--weights", "bf16"])
        XCTAssertEqual(rh.status, 0, rh.stderr)
        XCTAssertTrue(rh.stdout.contains("kept in f32, not bf16: \(downProj): a weight of 3.400e+38 is beyond the range of bf16"), rh.stdout)
        XCTAssertEqual(try encoding(of: downProj, in: outH), "f32")
        XCTAssertEqual(try encoding(of: upProj, in: outH), "bf16")
    }

    // MARK: outputs of a NaN model

    func testNaNLogitsPrintNaNAndJSONStaysValid() throws {
        // A NaN in layer 0's MLP: every logit is NaN. The checkpoint directory is run directly.
        let ck = try checkpoint(f32, [(upProj, 3, 5, .nan)])
        let table = try CLIRunner.run(["logits", "-m", ck, "--ids", "2,17,42", "--top", "3"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("logits contain NaN at 1517 of 1517"), table.stdout)
        XCTAssertFalse(table.stdout.contains("inf"), "NaN shown as another number: \(table.stdout)")

        let obj = try json(try CLIRunner.run(["logits", "-m", ck, "--ids", "2,17,42", "--top", "3", "--json", "--full"]))
        XCTAssertEqual(obj["nan_logits"] as? Int, 1517)
        XCTAssertEqual((obj["top"] as? [Any])?.count, 0, "NaN is not ranked")
        let rows = try XCTUnwrap(obj["logits"] as? [[Any]])
        XCTAssertTrue(rows.allSatisfy { $0.allSatisfy { $0 as? String == "NaN" } })

        // decompose: the table and JSON say NaN, the closure is NaN (not 0), nothing is ranked.
        let d = try CLIRunner.run(["decompose", "-m", ck, "--ids", "2,17,42", "--target", "5"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertTrue(d.stdout.contains("finer terms close to nan"), d.stdout)
        XCTAssertTrue(d.stdout.contains("NaN terms (not ranked): 5 residual, 8 heads, 24 head x source, 256 neurons"), d.stdout)
        for detail in ["summary", "full"] {
            let dj = try json(try CLIRunner.run(["decompose", "-m", ck, "--ids", "2,17,42", "--target", "5", "--json", "--detail", detail]))
            let t = try XCTUnwrap((dj["targets"] as? [[String: Any]])?.first)
            XCTAssertEqual(t["logit"] as? String, "NaN")
            XCTAssertEqual(t["finer_closure"] as? String, "NaN")
            XCTAssertEqual((t["nan_terms"] as? [String: Int])?["neurons"], 256)
            if detail == "summary" { XCTAssertEqual((t["top_neurons"] as? [Any])?.count, 0) }
        }
    }

    func testGenerateDoesNotPickATokenFromNaNLogits() throws {
        // The old argmax over NaN picked token 0 and went on with exit 0.
        let ck = try checkpoint(f32, [(upProj, 3, 5, .nan)])
        CLIRunner.assertCleanError(
            try CLIRunner.run(["generate", "-m", ck, "--ids", "2,17,42", "--max-tokens", "3"]),
            contains: "every logit is NaN after 3 tokens")
    }

    func testOneNaNLogitIsNotRanked() throws {
        // NaN in the embedding row of token 100 (not in the prompt): only logit 100 is NaN.
        let ck = try checkpoint(f32, [("model.embed_tokens.weight", 100, 0, .nan)])
        let clean = try json(try CLIRunner.run(["logits", "-m", f32, "--ids", "2,17,42", "--top", "5", "--json"]))
        let obj = try json(try CLIRunner.run(["logits", "-m", ck, "--ids", "2,17,42", "--top", "5", "--json", "--full"]))
        XCTAssertEqual(obj["nan_logits"] as? Int, 1)
        let ids = { (o: [String: Any]) in (o["top"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } ?? [] }
        XCTAssertEqual(ids(obj), ids(clean), "the ranking of the other tokens is unchanged")
        let last = try XCTUnwrap((obj["logits"] as? [[Any]])?.last)
        XCTAssertEqual(last[100] as? String, "NaN")
        XCTAssertEqual(last.filter { $0 is String }.count, 1)
        let table = try CLIRunner.run(["logits", "-m", ck, "--ids", "2,17,42", "--top", "5"])
        XCTAssertTrue(table.stdout.contains("logits contain NaN at 1 of 1517 vocabulary entries at position 2"), table.stdout)
    }
}

import Foundation
import XCTest

/// decompose / run / lens / paths / tokenize through the real executable.
final class PrismCommandsTests: XCTestCase {
    let model = CLIRunner.fixtures + "/tiny-f32"

    func json(_ r: CLIRunner.Result, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], file: file, line: line)
    }

    func testDecomposeJSONSchemaAndStoreAgree() throws {
        let full = try json(
            CLIRunner.run([
                "decompose", "-m", model, "--prompt", "The capital of France is", "--target", "680",
                "--target-diff", "#7", "#1000", "--json", "--detail", "full",
            ]))
        let targets = try XCTUnwrap(full["targets"] as? [[String: Any]])
        XCTAssertEqual(targets.count, 2)
        let t = targets[0]
        XCTAssertEqual(t["id"] as? Int, 680)
        for key in ["token", "logit", "sum", "error", "terms", "heads", "head_sources", "neurons"] { XCTAssertNotNil(t[key], key) }
        let terms = try XCTUnwrap(t["terms"] as? [String: Double])
        XCTAssertEqual(Set(terms.keys), ["embed", "blocks.0.attn", "blocks.0.mlp", "blocks.1.attn", "blocks.1.mlp"])
        XCTAssertEqual((t["heads"] as? [[Double]])?.count, 2)
        XCTAssertEqual((t["head_sources"] as? [[[Double]]])?.first?.first?.count, 16)
        XCTAssertEqual((t["neurons"] as? [[Double]])?.first?.count, 128)
        XCTAssertLessThan(abs(try XCTUnwrap(t["error"] as? Double)), 1e-4)
        XCTAssertEqual(targets[1]["ids"] as? [Int], [7, 1000])
        XCTAssertEqual(full["tokens"] as? [String] != nil, true)

        let dir = NSTemporaryDirectory() + "cmd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLIRunner.run(["run", "-m", model, "--prompt", "The capital of France is", "-o", dir + "/f.acts"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stored = try json(
            CLIRunner.run([
                "decompose", "-m", model, "--acts", dir + "/f.acts", "--target", "680", "--target-diff", "#7", "#1000", "--json", "--detail", "full",
            ]))
        XCTAssertEqual((stored["targets"] as? [[String: Any]])?.first?["neurons"] as? [[Double]], t["neurons"] as? [[Double]])
        XCTAssertEqual((stored["targets"] as? [[String: Any]])?.first?["logit"] as? Double, t["logit"] as? Double)

        let npy = try CLIRunner.run(["decompose", "-m", model, "--acts", dir + "/f.acts", "--target", "680", "--npy", dir + "/npy", "--csv", dir + "/csv"])
        XCTAssertEqual(npy.status, 0, npy.stderr)
        for f in ["terms.npy", "heads.npy", "head_sources.npy", "neurons.npy", "logits.npy", "ids.npy", "targets.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/npy/" + f), f)
        }
        let header = try Data(contentsOf: URL(fileURLWithPath: dir + "/npy/heads.npy")).prefix(80)
        XCTAssertTrue(String(decoding: header, as: UTF8.self).contains("'shape': (1, 2, 4)"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/csv/neurons.csv"))
    }

    func testLensAndPaths() throws {
        let lens = try json(CLIRunner.run(["lens", "-m", model, "--ids", "2,10,20,30", "--target", "5", "--norm", "frozen", "--json"]))
        let points = try XCTUnwrap(lens["points"] as? [[String: Any]])
        // The embedding, then after each of the 2 layers' attention and MLP: no vector twice.
        XCTAssertEqual(
            points.compactMap { $0["name"] as? String },
            ["blocks.0.resid_pre", "blocks.0.resid_mid", "blocks.0.resid_post", "blocks.1.resid_mid", "blocks.1.resid_post"])
        let paths = try json(
            CLIRunner.run([
                "paths", "-m", model, "--ids", "2,10,20,30", "--target", "5", "--layer", "1", "--head", "2",
                "--source", "1", "--apply-to", "#7", "#8", "--json",
            ]))
        let t = try XCTUnwrap((paths["targets"] as? [[String: Any]])?.first)
        XCTAssertEqual((t["piece_order"] as? [String])?.count, 3)
        XCTAssertLessThan(abs(try XCTUnwrap(t["error"] as? Double)), 1e-5)
        XCTAssertEqual((t["applied"] as? [Any])?.count, 2)
        let neuron = try json(CLIRunner.run(["paths", "-m", model, "--ids", "2,10,20,30", "--target", "5", "--layer", "1", "--neuron", "7", "--json"]))
        XCTAssertEqual(((neuron["targets"] as? [[String: Any]])?.first?["piece_order"] as? [String])?.count, 4)
    }

    func testTokenizeDetokenize() throws {
        let r = try json(CLIRunner.run(["tokenize", "-m", model, "--json", "--", "The capital of France is"]))
        let ids = try XCTUnwrap(r["ids"] as? [Int])
        XCTAssertEqual(ids.first, 2)
        let back = try json(CLIRunner.run(["detokenize", "-m", model, "--json", ids.map(String.init).joined(separator: ",")]))
        XCTAssertEqual(back["text"] as? String, "The capital of France is")
        let nobos = try json(CLIRunner.run(["tokenize", "-m", model, "--no-bos", "--json", "--", "The capital of France is"]))
        XCTAssertEqual(nobos["ids"] as? [Int], Array(ids.dropFirst()))
    }

    func testBadInputs() throws {
        CLIRunner.assertCleanError(
            try CLIRunner.run(["decompose", "-m", model, "--ids", "2,10", "--target", "5", "--position", "2"]), contains: "position 2 is out of range")
        CLIRunner.assertCleanError(try CLIRunner.run(["decompose", "-m", model, "--ids", "2,10", "--target", "99999"]), contains: "outside the vocabulary")
        CLIRunner.assertCleanError(try CLIRunner.run(["decompose", "-m", model, "--prompt", "x", "--target-token", " capital city"]), contains: "not one")
        CLIRunner.assertCleanError(try CLIRunner.run(["decompose", "-m", model, "--prompt", "", "--target", "5"]), contains: "empty prompt")
        CLIRunner.assertCleanError(try CLIRunner.run(["decompose", "-m", model, "--acts", "/nonexistent.acts", "--target", "5"]), contains: "nonexistent.acts")
        CLIRunner.assertCleanError(
            try CLIRunner.run(["paths", "-m", model, "--ids", "2,10", "--target", "5", "--layer", "7", "--neuron", "1"]), contains: "layer 7")
        CLIRunner.assertCleanError(try CLIRunner.run(["detokenize", "-m", model, "5,999999"]), contains: "999999")
    }
}

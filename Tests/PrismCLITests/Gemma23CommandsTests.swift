import Foundation
import XCTest

/// Every command on the Gemma 2 and Gemma 3 fixtures, as a user runs them: the decomposition
/// closes (capped and pre-cap) and names what it froze, a stored run decomposes as a live one,
/// the lens labels its soft-cap, batch and the studies run, and a memory budget is kept.
final class Gemma23CommandsTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gemma23-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func json(_ r: CLIRunner.Result, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], file: file, line: line)
    }

    func testDecomposeClosesAndStatesItsFrozenFactors() throws {
        for name in ["tiny-gemma2", "tiny-gemma3"] {
            let model = CLIRunner.fixtures + "/" + name
            let prism = dir + "/\(name).prism"
            XCTAssertEqual(try CLIRunner.run(["convert", model, "-o", prism, "--quiet"]).status, 0)
            // --pre-softcap only where there is a cap (on Gemma 3 it is refused: it would do nothing).
            if name == "tiny-gemma3" {
                CLIRunner.assertCleanError(
                    try CLIRunner.run(["decompose", "-m", model, "--ids", "2,5", "--target", "5", "--pre-softcap"]),
                    contains: "--pre-softcap: this model does not soft-cap its logits")
            }
            for (m, extra) in [(model, [String]()), (prism, [])] + (name == "tiny-gemma2" ? [(model, ["--pre-softcap"])] : []) {
                let o = try json(
                    try CLIRunner.run(
                        [
                            "decompose", "-m", m, "--prompt", "The capital of France is", "--target-token", " Paris", "--target-diff", " Paris", " London",
                            "--json",
                        ]
                            + extra))
                let frozen = try XCTUnwrap(o["frozen"] as? [String])
                XCTAssertTrue(frozen.contains { $0.contains("blocks.*.ln1_post.scale") }, "\(name): \(frozen)")
                XCTAssertTrue(frozen.contains { $0.contains("blocks.*.ln2_post.scale") }, "\(name): \(frozen)")
                let capped = name == "tiny-gemma2" && extra.isEmpty
                XCTAssertEqual(frozen.contains { $0.contains("soft-cap") }, capped, "\(name) \(extra): \(frozen)")
                for t in try XCTUnwrap(o["targets"] as? [[String: Any]]) {
                    let logit = try XCTUnwrap(t["logit"] as? Double), error = try XCTUnwrap(t["error"] as? Double)
                    XCTAssertLessThanOrEqual(abs(error), 1e-4 * max(1, abs(logit)), "\(name) \(m) \(extra)")
                    let sc = t["softcap"] as? [String: Any]
                    XCTAssertEqual(sc != nil, name == "tiny-gemma2", "\(name): softcap block")
                    if let sc {
                        XCTAssertEqual(sc["shown"] as? String, extra.isEmpty ? "capped" : "pre_softcap")
                        let shownLogit = try XCTUnwrap(sc[extra.isEmpty ? "capped_logit" : "pre_softcap_logit"] as? Double)
                        XCTAssertEqual(logit, shownLogit, accuracy: 1e-5 * max(1, abs(logit)))
                    }
                }
            }
        }
    }

    func testStoredRunLensBatchStudyAndBudget() throws {
        for name in ["tiny-gemma2", "tiny-gemma3"] {
            let model = CLIRunner.fixtures + "/" + name
            // A stored run decomposes as a live one.
            XCTAssertEqual(try CLIRunner.run(["run", "-m", model, "--prompt", "The capital of France is", "-o", dir + "/\(name).acts"]).status, 0)
            let stored = try json(try CLIRunner.run(["decompose", "-m", model, "--acts", dir + "/\(name).acts", "--target", "680", "--json"]))
            let live = try json(try CLIRunner.run(["decompose", "-m", model, "--prompt", "The capital of France is", "--target", "680", "--json"]))
            let a = try XCTUnwrap((stored["targets"] as? [[String: Any]])?.first?["logit"] as? Double)
            let b = try XCTUnwrap((live["targets"] as? [[String: Any]])?.first?["logit"] as? Double)
            XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), name)
            // The lens says whether the soft-cap is applied.
            let lens = try json(try CLIRunner.run(["lens", "-m", model, "--prompt", "The capital of France is", "--target", "680", "--json"]))
            XCTAssertEqual(lens["softcap"] is NSNull, name == "tiny-gemma3", name)
            // Batch, under a budget.
            let input = dir + "/\(name).jsonl"
            try Data(
                "{\"id\":\"a\",\"prompt\":\"The capital of France is\",\"targets\":[\" Paris\"]}\n{\"id\":\"b\",\"ids\":[2,5,6,7,8,9,10,11],\"targets\":[\"#5\"]}\n"
                    .utf8
            )
            .write(to: URL(fileURLWithPath: input))
            let out = dir + "/\(name).out.jsonl"
            let r = try CLIRunner.run(["batch", "-m", model, "--input", input, "--output", out, "--max-memory", "64MiB"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, 2)
            for l in lines {
                let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
                XCTAssertNil(o["error"], "\(name): \(l)")
            }
            // A study writes its report.
            let study = try CLIRunner.run(["study", "addition", "-m", model, "-o", dir + "/\(name)-addition"])
            XCTAssertEqual(study.status, 0, study.stderr)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/\(name)-addition/index.html"))
        }
    }
}

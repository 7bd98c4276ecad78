import Foundation
import XCTest

/// A batch line is exactly what `prism decompose --json` prints for the same prompt and targets,
/// plus `id` and `line` (issue 18: the README said so and it was not true).
final class BatchLineEqualsDecomposeTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "batch-eq-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testBatchLineIsTheDecomposeObjectPlusIdAndLine() throws {
        let model = CLIRunner.fixtures + "/tiny-gemma2"
        let input = dir + "/in.jsonl", output = dir + "/out.jsonl"
        try Data(#"{"id":"fr","prompt":"The capital of France is","targets":[" Paris"],"target_diffs":[[" Paris"," London"]]}"#.utf8 + [10])
            .write(to: URL(fileURLWithPath: input))
        let b = try CLIRunner.run(["batch", "-m", model, "--input", input, "--output", output])
        XCTAssertEqual(b.status, 0, b.stderr)
        let d = try CLIRunner.run([
            "decompose", "-m", model, "--prompt", "The capital of France is", "--target-token", " Paris", "--target-diff", " Paris", " London", "--json",
        ])
        XCTAssertEqual(d.status, 0, d.stderr)
        var line = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        let single = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(line.removeValue(forKey: "id") as? String, "fr")
        XCTAssertEqual(line.removeValue(forKey: "line") as? Int, 1)
        XCTAssertEqual(Set(line.keys), Set(single.keys))
        XCTAssertEqual(line as NSDictionary, single as NSDictionary, "the same object, value for value")
    }

    /// With a position before the last, too: the line reports the whole prompt (its ids were cut
    /// to the decomposed prefix, where `decompose` reports every token).
    func testBatchLineAtAnEarlierPositionReportsTheWholePrompt() throws {
        let model = CLIRunner.fixtures + "/tiny-f32"
        let input = dir + "/in.jsonl", output = dir + "/out.jsonl"
        try Data(#"{"id":"p","prompt":"The capital of France is","targets":[" Paris"],"position":3}"#.utf8 + [10]).write(to: URL(fileURLWithPath: input))
        XCTAssertEqual(try CLIRunner.run(["batch", "-m", model, "--input", input, "--output", output]).status, 0)
        let d = try CLIRunner.run(["decompose", "-m", model, "--prompt", "The capital of France is", "--target-token", " Paris", "--position", "3", "--json"])
        XCTAssertEqual(d.status, 0, d.stderr)
        var line = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        let single = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [String: Any])
        line["id"] = nil
        line["line"] = nil
        XCTAssertEqual((single["ids"] as? [Int])?.count, (single["tokens"] as? [String])?.count, "decompose: ids and tokens alike")
        XCTAssertGreaterThan((single["ids"] as? [Int])?.count ?? 0, 4, "the whole prompt, not the prefix up to position 3")
        XCTAssertEqual(line as NSDictionary, single as NSDictionary)
    }
}

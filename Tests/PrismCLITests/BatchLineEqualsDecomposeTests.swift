import Foundation
import XCTest

/// A batch line is exactly what `prism decompose --json` prints for the same prompt and targets,
/// plus `id` and `line` (issue 18: the README said so and it was not true).
final class BatchLineEqualsDecomposeTests: XCTestCase {
    func testBatchLineIsTheDecomposeObjectPlusIdAndLine() throws {
        let dir = NSTemporaryDirectory() + "batch-eq-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
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
}

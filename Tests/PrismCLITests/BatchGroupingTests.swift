import Foundation
import XCTest

/// A batch record's numbers are a function of the record, the model and the route alone: the
/// same, bit for bit, whatever records share its chunk, and equal to `prism decompose` of the
/// same prompt. (They used to move with the chunk's size: BLAS and the int8 kernels summed a
/// row in an order that depended on how many rows were multiplied together.)
final class BatchGroupingTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "grouping-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Prompts of 1 to 14 tokens, the same prompt many times over, several targets each.
    func writeInput() throws -> String {
        var lines: [String] = []
        let prompts = ["The capital of France is", "2 + 3 =", "The", "The capital of Japan is Tokyo. The capital of France is"]
        for i in 0..<20 {
            lines.append(
                #"{"id": "p\#(i)", "prompt": "\#(prompts[i % prompts.count])", "targets": [" Paris", " Tokyo"], "target_diffs": [[" Paris", " Rome"]]}"#)
        }
        lines.append(#"{"id": "bos", "ids": [2], "target_ids": [5, 6]}"#)
        lines.append(#"{"id": "two", "ids": [2, 651], "target_ids": [5]}"#)
        let path = dir + "/in.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The output's lines by id, as text (so equality is bit for bit).
    func lines(_ path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            out[try XCTUnwrap(obj["id"] as? String)] = String(line)
        }
        return out
    }

    func checkGrouping(model: String, route: [String]) throws {
        let input = try writeInput()
        var runs: [[String: String]] = []
        for (k, options) in [["--chunk", "1"], ["--chunk", "7"], ["--chunk", "64"], ["--chunk", "64", "--max-memory", "64MiB"]].enumerated() {
            let out = dir + "/out\(k)-\(route.count).jsonl"
            let r = try CLIRunner.run(["batch", "-m", model, "--input", input, "--output", out, "--quiet"] + options + route)
            XCTAssertEqual(r.status, 0, r.stderr)
            runs.append(try lines(out))
        }
        XCTAssertEqual(runs[0].count, 22)
        for (k, run) in runs.enumerated().dropFirst() {
            for (id, line) in runs[0] { XCTAssertEqual(run[id], line, "record \(id): chunking \(k) vs one prompt per chunk") }
        }
        // `prism decompose` of a record gives the batch's numbers, bit for bit.
        let d = try CLIRunner.run(["decompose", "-m", model, "--prompt", "The capital of France is", "--target-token", " Paris", "--json"] + route)
        XCTAssertEqual(d.status, 0, d.stderr)
        let single = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [String: Any])
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(runs[2]["p0"]).utf8)) as? [String: Any])
        let a = try XCTUnwrap((single["targets"] as? [[String: Any]])?.first)
        let b = try XCTUnwrap((record["targets"] as? [[String: Any]])?.first)
        XCTAssertEqual(a["logit"] as? Double, b["logit"] as? Double)
        XCTAssertEqual(a["terms"] as? [String: Double], b["terms"] as? [String: Double])
    }

    func testInt8ModelRecordsDoNotDependOnTheirChunk() throws {
        try checkGrouping(model: Self.shipped, route: [])
    }

    func testExactRouteRecordsDoNotDependOnTheirChunk() throws {
        try checkGrouping(model: Self.shipped, route: ["--exact-activations"])
    }
}

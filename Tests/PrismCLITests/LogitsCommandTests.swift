import Foundation
import XCTest

final class LogitsCommandTests: XCTestCase {
    struct Reference: Decodable {
        struct Sequence: Decodable { let ids: [Int]; let logits: [[Float]] }
        let sequences: [Sequence]
    }

    func reference(_ name: String) throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: CLIRunner.fixtures + "/reference/\(name).json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    func testJSONOutputMatchesTransformers() throws {
        for name in ["tiny-f32", "tiny-bf16"] {
            let seq = try reference(name).sequences[2]
            let r = try CLIRunner.run([
                "logits", "-m", CLIRunner.fixtures + "/" + name, "--ids", seq.ids.map(String.init).joined(separator: ","),
                "--top", "3", "--full", "--json",
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(obj["ids"] as? [Int], seq.ids)
            let logits = try XCTUnwrap(obj["logits"] as? [[Double]])
            XCTAssertEqual(logits.count, seq.ids.count)
            let maxLogit = seq.logits.joined().map { abs(Double($0)) }.max() ?? 1
            let diff = zip(logits.joined(), seq.logits.joined()).map { abs($0 - Double($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-4 * maxLogit)
            let top = try XCTUnwrap(obj["top"] as? [[String: Any]])
            let last = seq.logits[seq.logits.count - 1]
            XCTAssertEqual(top.first?["id"] as? Int, last.indices.max { last[$0] < last[$1] })
            XCTAssertEqual(top.count, 3)
        }
    }

    func testPromptIsTokenized() throws {
        let r = try CLIRunner.run(["logits", "-m", CLIRunner.fixtures + "/tiny-f32", "--prompt", "The capital of France is", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let ids = try XCTUnwrap(obj["ids"] as? [Int])
        XCTAssertEqual(ids.first, 2, "<bos> first")
        XCTAssertGreaterThan(ids.count, 3)
    }

    func testTruncatedShard() throws {
        let dir = try CLIRunner.copyFixture("tiny-bf16")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shard = dir + "/model-00002-of-00002.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: shard))
        try data.prefix(data.count - 1000).write(to: URL(fileURLWithPath: shard))
        let r = try CLIRunner.run(["logits", "-m", dir, "--ids", "2,5,6"])
        CLIRunner.assertCleanError(r, contains: "model-00002-of-00002.safetensors")
    }

    func testOutOfBoundsOffset() throws {
        let dir = try CLIRunner.copyFixture("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        // Push the end offset of model.norm.weight far past the end of the file, keeping the header length.
        let key = "\"model.norm.weight\""
        let range = try XCTUnwrap(header.range(of: key))
        let after = header[range.upperBound...]
        let offsRange = try XCTUnwrap(after.range(of: "\"data_offsets\":["))
        let endOfList = try XCTUnwrap(after[offsRange.upperBound...].firstIndex(of: "]"))
        let list = after[offsRange.upperBound..<endOfList]
        let parts = list.split(separator: ",")
        let newList = "\(parts[0]),99999999"
        header.replaceSubrange(offsRange.upperBound..<endOfList, with: newList.padding(toLength: list.count, withPad: " ", startingAt: 0))
        let newHeader = Array(header.utf8)
        XCTAssertEqual(newHeader.count, n)
        bytes.replaceSubrange(8..<(8 + n), with: newHeader)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["logits", "-m", dir, "--ids", "2,5,6"])
        CLIRunner.assertCleanError(r, contains: "out of bounds")
    }

    func testMissingShard() throws {
        let dir = try CLIRunner.copyFixture("tiny-bf16")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/model-00001-of-00002.safetensors")
        let r = try CLIRunner.run(["logits", "-m", dir, "--ids", "2,5,6"])
        CLIRunner.assertCleanError(r, contains: "model-00001-of-00002.safetensors named in the index is missing")
    }

    func testUnknownModelType() throws {
        let dir = try CLIRunner.copyFixture("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = dir + "/config.json"
        let text = try String(contentsOfFile: cfg, encoding: .utf8).replacingOccurrences(of: "\"model_type\": \"gemma\"", with: "\"model_type\": \"llama\"")
        try text.write(toFile: cfg, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["logits", "-m", dir, "--ids", "2,5,6"])
        CLIRunner.assertCleanError(r, contains: "unsupported model_type 'llama'")
    }

    func testBadIdsAndMissingModel() throws {
        CLIRunner.assertCleanError(
            try CLIRunner.run(["logits", "-m", CLIRunner.fixtures + "/tiny-f32", "--ids", "2,99999"]), contains: "outside the vocabulary")
        CLIRunner.assertCleanError(try CLIRunner.run(["logits", "-m", "/nonexistent/model", "--ids", "2"]), contains: "model not found")
        let r = try CLIRunner.run(["logits", "-m", CLIRunner.fixtures + "/tiny-f32", "--ids", "2,x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--ids"), r.stderr)
        let long = Array(repeating: "5", count: 200).joined(separator: ",")
        CLIRunner.assertCleanError(try CLIRunner.run(["logits", "-m", CLIRunner.fixtures + "/tiny-f32", "--ids", long]), contains: "max_position_embeddings")
    }
}

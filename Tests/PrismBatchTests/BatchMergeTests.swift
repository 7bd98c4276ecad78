import Foundation
import PrismBatch
import PrismSupport
import XCTest

final class BatchMergeTests: BatchFilesTestCase {
    func record(_ line: Int, error: Bool = false) -> String {
        error ? #"{"error":"bad","line":\#(line)}"# : #"{"id":"r\#(line)","line":\#(line),"targets":[]}"#
    }

    func part(_ name: String, _ lines: [Int], errors: Set<Int> = []) throws -> String {
        let path = dir + "/" + name
        try write(lines.map { record($0, error: errors.contains($0)) + "\n" }.joined(), path)
        return path
    }

    func input(lines: Int) -> BatchInput {
        let text = (1...lines).map { #"{"id": "r\#($0)", "prompt": "p", "targets": [" x"]}"# }.joined(separator: "\n")
        return BatchInput.read(data: Data(text.utf8), checksum: { _ in "" })
    }

    /// Shards' records come back in input order, every one once.
    func testMergeFollowsTheInputOrder() throws {
        let a = try part("a", [1, 3, 5]), b = try part("b", [2, 4], errors: [4])
        let out = dir + "/merged.jsonl"
        let (records, errors) = try BatchMerge.merge(parts: [a, b], output: out, input: input(lines: 5), force: false)
        XCTAssertEqual(records, 5)
        XCTAssertEqual(errors, 1)
        XCTAssertEqual(try read(out), (1...5).map { record($0, error: $0 == 4) + "\n" }.joined())
        XCTAssertTrue(message { _ = try BatchMerge.merge(parts: [a, b], output: out, input: nil, force: false) }.contains("exists; pass --force"))
        XCTAssertNoThrow(try BatchMerge.merge(parts: [a, b], output: out, input: nil, force: true))
    }

    func testLineChecks() throws {
        let out = dir + "/merged.jsonl"
        let a = try part("a", [1, 2]), b = try part("b", [2, 3])
        XCTAssertEqual(
            message { _ = try BatchMerge.merge(parts: [a, b], output: out, input: nil, force: false) },
            "the record of input line 2 appears in both \(a) and \(b)")

        let c = try part("c", [3])
        XCTAssertEqual(
            message { _ = try BatchMerge.merge(parts: [a, c], output: out, input: self.input(lines: 4), force: false) },
            "1 input records are in no part (first: input line 4); run the missing shards")
        XCTAssertEqual(
            message { _ = try BatchMerge.merge(parts: [a, c], output: out, input: self.input(lines: 2), force: false) },
            "a record of input line 3 is in the parts but there is no such record in the input")

        let torn = try part("torn", [1])
        try append(#"{"line":2,"#, torn)
        XCTAssertEqual(
            message { _ = try BatchMerge.merge(parts: [torn], output: out, input: nil, force: false) },
            "\(torn) ends in a torn line: resume that shard first")

        let junk = dir + "/junk"
        try write(record(1) + "\n" + #"{"id":"x"}"# + "\n", junk)
        XCTAssertEqual(
            message { _ = try BatchMerge.merge(parts: [junk], output: out, input: nil, force: false) },
            "\(junk): line 2 is not a result record")

        try write("{\"format\":\"x\"}\n{\"chunk\":0", c + ".journal")
        XCTAssertEqual(
            message { _ = try BatchMerge.merge(parts: [c], output: out, input: nil, force: false) },
            "\(c).journal is torn: resume that shard first")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written when a check fails")
    }

    func testPartStillBeingWrittenIsRefused() throws {
        let a = try part("a", [1])
        let lock = try OutputLock(output: a)
        XCTAssertTrue(
            message { _ = try BatchMerge.merge(parts: [a], output: self.dir + "/m", input: nil, force: false) }
                .hasPrefix("\(a) is still being written (pid \(getpid())"))
        withExtendedLifetime(lock) {}
    }

    func testOutputMayNotBeAPart() throws {
        let a = try part("a", [1])
        XCTAssertTrue(message { _ = try BatchMerge.merge(parts: [a], output: a, input: nil, force: true) }.contains("is this command's input"))
        XCTAssertEqual(try read(a), record(1) + "\n")
    }
}

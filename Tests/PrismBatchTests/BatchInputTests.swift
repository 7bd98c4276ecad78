import Foundation
import PrismBatch
import PrismSupport
import XCTest

final class BatchInputTests: XCTestCase {
    func read(_ lines: [String]) -> BatchInput {
        BatchInput.read(data: Data(lines.joined(separator: "\n").utf8), checksum: { "\($0.count) bytes" })
    }

    func record(_ entry: Result<BatchRecord, BadLine>, file: StaticString = #filePath, line: UInt = #line) throws -> BatchRecord {
        switch entry {
        case .success(let r): return r
        case .failure(let e): XCTFail("line \(e.line): \(e.error)", file: file, line: line); throw e
        }
    }

    func bad(_ entry: Result<BatchRecord, BadLine>, file: StaticString = #filePath, line: UInt = #line) -> BadLine? {
        if case .failure(let e) = entry { return e }
        XCTFail("expected a bad line", file: file, line: line)
        return nil
    }

    /// `entry` is a bad line with these fields (BadLine's init is internal to PrismBatch).
    func assertBad(
        _ entry: Result<BatchRecord, BadLine>, id: String?, line: Int, error: String, _ what: String = "",
        file: StaticString = #filePath, line testLine: UInt = #line
    ) {
        guard let e = bad(entry, file: file, line: testLine) else { return }
        XCTAssertEqual(e.id, id, what, file: file, line: testLine)
        XCTAssertEqual(e.line, line, what, file: file, line: testLine)
        XCTAssertEqual(e.error, error, what, file: file, line: testLine)
    }

    func testRecordsKeepTheirFieldsAndLineNumbers() throws {
        let data = [
            #"{"id": "a", "prompt": "The capital of France is", "targets": [" Paris"], "position": -2}"#,
            "",
            "   \t",
            #"{"id": 7, "ids": [2, 10, 11], "target_ids": [5], "target_diffs": [[" a", " b"]]}"#,
        ]
        let input = read(data)
        XCTAssertEqual(input.checksum, "\(data.joined(separator: "\n").utf8.count) bytes", "the checksum is over the whole file")
        XCTAssertEqual(input.entries.count, 2, "blank lines are no records")
        let a = try record(input.entries[0]), b = try record(input.entries[1])
        XCTAssertEqual(a.id, "a")
        XCTAssertEqual(a.line, 1)
        XCTAssertEqual(a.prompt, "The capital of France is")
        XCTAssertNil(a.ids)
        XCTAssertEqual(a.targets, [" Paris"])
        XCTAssertEqual(a.targetIds, [])
        XCTAssertEqual(a.targetDiffs, [])
        XCTAssertEqual(a.position, -2)
        XCTAssertNil(b.prompt)
        XCTAssertEqual(b.id, "7", "a numeric id is kept as its text")
        XCTAssertEqual(b.line, 4, "blank lines still count")
        XCTAssertEqual(b.ids, [2, 10, 11])
        XCTAssertEqual(b.targetIds, [5])
        XCTAssertEqual(b.targetDiffs, [[" a", " b"]])
        XCTAssertEqual(b.position, -1)
    }

    func testDuplicateKeysAreRefused() throws {
        let input = read([
            #"{"id": "a", "prompt": "x", "targets": ["y"], "id": "b"}"#,
            #"{"id": "c", "prompt": "x", "targets": ["id", "id"], "position": 0}"#,
            #"{"id": "d", "prompt": "{\"prompt\": 1}", "targets": ["y"]}"#,
            #"{"id": "e", "ids": [1], "target_ids": [2], "target_ids": [3]}"#,
        ])
        assertBad(input.entries[0], id: nil, line: 1, error: "line 1 has the key \"id\" twice")
        XCTAssertEqual(try record(input.entries[1]).id, "c", "strings equal to a key inside a value are no keys")
        XCTAssertEqual(try record(input.entries[2]).prompt, #"{"prompt": 1}"#, "nor is JSON inside a string")
        XCTAssertEqual(bad(input.entries[3])?.error, "line 4 has the key \"target_ids\" twice")
    }

    /// A key spelled with an escape is the same key (JSON readers see `"i\u0064"` as `"id"`);
    /// the error names it as spelled, on one line.
    func testDuplicateKeySpelledWithAnEscape() {
        let input = read([
            #"{"id": "a", "i\u0064": "b", "prompt": "x", "targets": ["y"]}"#,
            #"{"id": "b", "a\nb": 1, "a\u000ab": 2, "prompt": "x", "targets": ["y"]}"#,
        ])
        assertBad(input.entries[0], id: nil, line: 1, error: #"line 1 has the key "i\u0064" twice"#)
        assertBad(input.entries[1], id: nil, line: 2, error: #"line 2 has the key "a\u000ab" twice"#)
    }

    /// The second record with an id already seen is an error record (keyed by its line); the
    /// first keeps its place.
    func testDuplicateIds() throws {
        let input = read([
            #"{"id": "q", "prompt": "one", "targets": ["x"]}"#,
            #"{"id": "r", "prompt": "two", "targets": ["x"]}"#,
            #"{"id": "q", "prompt": "three", "targets": ["x"]}"#,
            #"{"id": 1, "prompt": "four", "targets": ["x"]}"#,
            #"{"id": "1", "prompt": "five", "targets": ["x"]}"#,
        ])
        XCTAssertEqual(try record(input.entries[0]).prompt, "one")
        assertBad(input.entries[2], id: "q", line: 3, error: "duplicate id 'q' (first seen earlier in the file)")
        XCTAssertEqual(bad(input.entries[4])?.line, 5, "1 and \"1\" are the same id")
        XCTAssertEqual(input.entries.count, 5)
    }

    func testEachBadLineSaysWhy() {
        let cases: [(String, String?, String)] = [
            ("not json", nil, "line 1 is not a JSON object"),
            ("[1, 2]", nil, "line 1 is not a JSON object"),
            (#"{"prompt": "x", "targets": ["y"]}"#, nil, #"line 1 has no "id" (a non-empty string or a number)"#),
            (#"{"id": "", "prompt": "x", "targets": ["y"]}"#, nil, #"line 1 has no "id" (a non-empty string or a number)"#),
            (#"{"id": true, "prompt": "x", "targets": ["y"]}"#, nil, #"line 1 has no "id" (a non-empty string or a number)"#),
            (#"{"id": "k", "prompt": "x", "targets": ["y"], "temperature": 1}"#, "k", #"unknown key "temperature""#),
            (#"{"id": "k", "prompt": "x", "ids": [1], "targets": ["y"]}"#, "k", #"give exactly one of "prompt" or "ids""#),
            (#"{"id": "k", "targets": ["y"]}"#, "k", #"give exactly one of "prompt" or "ids""#),
            (#"{"id": "k", "prompt": 5, "targets": ["y"]}"#, "k", #""prompt" must be a string"#),
            (#"{"id": "k", "prompt": "", "targets": ["y"]}"#, "k", "empty prompt"),
            (#"{"id": "k", "ids": [], "targets": ["y"]}"#, "k", #"empty prompt ("ids" is [])"#),
            (#"{"id": "k", "ids": [1, -2], "targets": ["y"]}"#, "k", #""ids" must be a list of non-negative integers"#),
            (#"{"id": "k", "ids": [1.5], "targets": ["y"]}"#, "k", #""ids" must be a list of non-negative integers"#),
            (#"{"id": "k", "ids": [true], "targets": ["y"]}"#, "k", #""ids" must be a list of non-negative integers"#),
            (#"{"id": "k", "prompt": "x", "targets": " y"}"#, "k", #""targets" must be a list of strings"#),
            (#"{"id": "k", "prompt": "x", "target_ids": ["5"]}"#, "k", #""target_ids" must be a list of non-negative integers"#),
            (#"{"id": "k", "prompt": "x", "target_diffs": [[" a"]]}"#, "k", #""target_diffs" must be a list of ["a", "b"] pairs"#),
            (#"{"id": "k", "prompt": "x"}"#, "k", #"no targets ("targets", "target_ids" or "target_diffs")"#),
            (#"{"id": "k", "prompt": "x", "targets": []}"#, "k", #"no targets ("targets", "target_ids" or "target_diffs")"#),
            (#"{"id": "k", "prompt": "x", "targets": ["y"], "position": 1.5}"#, "k", #""position" must be an integer"#),
            (#"{"id": "k", "prompt": "x", "targets": ["y"], "position": false}"#, "k", #""position" must be an integer"#),
            (#"{"id": "k", "prompt": "x", "targets": ["y"], "position": 1e13}"#, "k", #""position" must be an integer"#),
        ]
        for (text, id, error) in cases {
            let input = read([text])
            XCTAssertEqual(input.entries.count, 1, text)
            assertBad(input.entries[0], id: id, line: 1, error: error, text)
        }
    }
}

final class ShardTests: XCTestCase {
    func testParse() throws {
        XCTAssertEqual(try Shard.parse("0/4"), try Shard(index: 0, count: 4))
        XCTAssertEqual(try Shard.parse("3/4").description, "3/4")
        XCTAssertEqual(Shard.all.description, "0/1")
        for bad in ["4/4", "-1/4", "1/0", "0/-1", "a/b", "1", "1/2/3", "", "/", " 1/2"] {
            XCTAssertThrowsError(try Shard.parse(bad), bad)
        }
        XCTAssertThrowsError(try Shard.parse("x")) { XCTAssertEqual(($0 as? PrismError)?.message, "--shard takes I/N, e.g. 0/4 (got 'x')") }
        XCTAssertThrowsError(try Shard.parse("5/4")) { XCTAssertEqual(($0 as? PrismError)?.message, "shard 5/4 is invalid: need 0 <= I < N") }
    }

    /// N shards take every record exactly once between them.
    func testShardsPartitionTheRecords() throws {
        for n in 1...5 {
            let shards = try (0..<n).map { try Shard(index: $0, count: n) }
            for k in 0..<50 {
                XCTAssertEqual(shards.filter { $0.takes(k) }.count, 1, "record \(k) of \(n) shards")
            }
        }
        XCTAssertTrue((0..<20).allSatisfy(Shard.all.takes))
    }

    func testFromEnvironment() throws {
        XCTAssertNil(try Shard.fromEnvironment([:], shards: nil))
        // A variable set to something else than a number is an error: ignored, every task would run every record.
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "x"], shards: 4))
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2 "], shards: 4))
        XCTAssertThrowsError(try Shard.fromEnvironment([:], shards: 3), "--shards without an index")
        XCTAssertNil(try Shard.fromEnvironment([:], shards: 1))
        XCTAssertEqual(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"], shards: nil), try Shard(index: 2, count: 4))
        XCTAssertEqual(
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3"], shards: nil),
            try Shard(index: 2, count: 3), "arrays need not start at 0")
        XCTAssertEqual(
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"], shards: 2), try Shard(index: 1, count: 2),
            "--shards wins over the array's count")
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "1"], shards: nil)) {
            XCTAssertEqual(($0 as? PrismError)?.message, "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT; pass --shards N")
        }
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"], shards: nil), "id past the count")
        XCTAssertEqual(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3"], shards: 8), try Shard(index: 3, count: 8))
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3"], shards: nil)) {
            XCTAssertEqual(($0 as? PrismError)?.message, "JOB_COMPLETION_INDEX is set; pass --shards N (the Job's completions)")
        }
        XCTAssertEqual(
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2", "JOB_COMPLETION_INDEX": "5"], shards: nil),
            try Shard(index: 0, count: 2), "Slurm is read first")
    }
}

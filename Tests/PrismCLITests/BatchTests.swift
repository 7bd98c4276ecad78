import Foundation
import XCTest

/// `prism batch` as real processes: killed with SIGKILL and resumed, sharded and merged.
final class BatchTests: XCTestCase {
    let model = CLIRunner.fixtures + "/tiny-f32"
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "batch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = []
        for i in 0..<48 {
            switch i {
            case 3: lines.append("{this is not json")
            case 7: lines.append(#"{"id": "empty", "prompt": "", "target_ids": [5]}"#)
            case 11: lines.append(#"{"id": "unknown-token", "prompt": "The capital", "targets": [" zzzzqqq"]}"#)
            case 15: lines.append(#"{"id": "too-long", "ids": [2\#(String(repeating: ",7", count: 200))], "target_ids": [5]}"#)
            case 19: lines.append(#"{"id": "bad-position", "ids": [2, 5], "target_ids": [5], "position": 9}"#)
            default:
                let n = Int.random(in: 1...18, using: &rng)
                let ids = [2] + (0..<n).map { _ in Int.random(in: 0..<1517, using: &rng) }
                lines.append(##"{"id": "r\##(i)", "ids": \##(ids), "target_ids": [5, 680], "target_diffs": [["#7", "#8"]]}"##)
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func records(_ path: String) throws -> [String: [String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"), "no torn last line")
        var out: [String: [String: Any]] = [:]
        for line in text.split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            // Records of lines without a readable id are keyed by their line.
            let id = try (obj["id"] as? String) ?? "line:\(XCTUnwrap(obj["line"] as? Int))"
            XCTAssertNil(out[id], "id \(id) appears twice")
            out[id] = obj
        }
        return out
    }

    /// Same ids, same errors, and every number equal to 1e-5 relative.
    func assertSameResults(_ a: [String: [String: Any]], _ b: [String: [String: Any]], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line)
        for (id, x) in a {
            guard let y = b[id] else { continue }
            XCTAssertEqual(x["error"] as? String, y["error"] as? String, id, file: file, line: line)
            let tx = x["targets"] as? [[String: Any]] ?? [], ty = y["targets"] as? [[String: Any]] ?? []
            XCTAssertEqual(tx.count, ty.count, id, file: file, line: line)
            for (p, q) in zip(tx, ty) {
                let lx = p["logit"] as? Double ?? .nan, ly = q["logit"] as? Double ?? .nan
                XCTAssertEqual(lx, ly, accuracy: 1e-5 * max(1, abs(lx)), id, file: file, line: line)
                let termsX = p["terms"] as? [String: Double] ?? [:], termsY = q["terms"] as? [String: Double] ?? [:]
                XCTAssertEqual(Set(termsX.keys), Set(termsY.keys), file: file, line: line)
                for (k, v) in termsX { XCTAssertEqual(v, termsY[k] ?? .nan, accuracy: 1e-5 * max(1, abs(v)), "\(id) \(k)", file: file, line: line) }
            }
        }
    }

    func batch(_ output: String, _ extra: [String] = []) -> [String] {
        ["batch", "-m", model, "--input", dir + "/in.jsonl", "--output", output, "--chunk", "3", "--quiet"] + extra
    }

    func testBadRecordsBecomeErrorRecords() throws {
        let r = try CLIRunner.run(batch(dir + "/out.jsonl", ["--summary", dir + "/summary.json"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try records(dir + "/out.jsonl")
        XCTAssertEqual(out.count, 48)
        let errors = out.filter { $0.value["error"] != nil }
        XCTAssertEqual(Set(errors.keys), ["line:4", "empty", "unknown-token", "too-long", "bad-position"])
        XCTAssertTrue((errors["too-long"]?["error"] as? String)?.contains("max_position_embeddings") == true)
        for (_, rec) in out where rec["error"] == nil {
            let t = try XCTUnwrap(rec["targets"] as? [[String: Any]])
            XCTAssertEqual(t.count, 3)
            XCTAssertLessThan(abs(t[0]["error"] as? Double ?? 1), 1e-4)
        }
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["records"] as? Int, 48)
        XCTAssertEqual(summary["errors"] as? Int, 5)
        XCTAssertNotNil((summary["components"] as? [String: Any])?["blocks.1.mlp"])
        // A finished job rerun does nothing and changes nothing.
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/out.jsonl"))
        XCTAssertEqual(try CLIRunner.run(batch(dir + "/out.jsonl")).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/out.jsonl")), before)
    }

    /// Piped (a scheduler's log), progress is a line every tenth, and the last one once.
    func testPipedProgressEndsWithOneFullLine() throws {
        let args = batch(dir + "/out.jsonl").filter { $0 != "--quiet" }
        let r = try CLIRunner.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("batch: ") && $0.contains("%") }
        XCTAssertEqual(lines.filter { $0.hasPrefix("batch: 100%") }.count, 1, r.stderr)
        XCTAssertEqual(lines.last?.hasPrefix("batch: 100%"), true, r.stderr)
    }

    func testKilledJobsResumeWithNothingLostOrDuplicated() throws {
        let reference = dir + "/reference.jsonl"
        XCTAssertEqual(try CLIRunner.run(batch(reference)).status, 0)
        let expected = try records(reference)
        guard let exe = CLIRunner.executable else { return XCTFail("no executable") }
        for round in 0..<4 {
            let out = dir + "/killed\(round).jsonl"
            // Kill at a few random moments, then let it finish.
            for _ in 0..<3 {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: exe)
                p.arguments = batch(out)
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                usleep(UInt32.random(in: 20_000...400_000))
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
            // Simulate a kill in the middle of appending a chunk too: the intent prism journals
            // first (the output's length once the chunk is in), then part of a line.
            let torn = Data(#"{"id": "r-torn", "tar"#.utf8)
            let journal = try Data(contentsOf: URL(fileURLWithPath: out + ".journal"))
            if journal.last == UInt8(ascii: "\n"), let h = FileHandle(forWritingAtPath: out), let j = FileHandle(forWritingAtPath: out + ".journal") {
                let size = h.seekToEndOfFile()
                j.seekToEndOfFile()
                j.write(Data(#"{"intent": 999, "bytes": \#(Int(size) + torn.count + 100)}"#.utf8 + [10]))
                j.closeFile()
                h.write(torn)
                h.closeFile()
            }
            let r = try CLIRunner.run(batch(out))
            XCTAssertEqual(r.status, 0, r.stderr)
            assertSameResults(try records(out), expected)
        }
    }

    func testShardsMergedEqualTheWhole() throws {
        XCTAssertEqual(try CLIRunner.run(batch(dir + "/whole.jsonl")).status, 0)
        var parts: [String] = []
        for i in 0..<3 {
            let part = dir + "/part\(i).jsonl"
            let r = try CLIRunner.run(batch(part, ["--shard", "\(i)/3"]))
            XCTAssertEqual(r.status, 0, r.stderr)
            parts.append(part)
        }
        let merged = dir + "/merged.jsonl"
        let m = try CLIRunner.run(["merge"] + parts + ["-o", merged, "--input", dir + "/in.jsonl"])
        XCTAssertEqual(m.status, 0, m.stderr)
        assertSameResults(try records(merged), try records(dir + "/whole.jsonl"))
        // A missing shard is caught, and so is a duplicated one.
        CLIRunner.assertCleanError(
            try CLIRunner.run(["merge", parts[0], parts[1], "-o", dir + "/m2.jsonl", "--input", dir + "/in.jsonl"]), contains: "in no part")
        CLIRunner.assertCleanError(try CLIRunner.run(["merge", parts[0], parts[0], "-o", dir + "/m3.jsonl"]), contains: "appears in both")
    }

    func testSchedulerEnvironmentAndRefusals() throws {
        // Slurm array task 1 of 3 takes the same records as --shard 1/3.
        guard let exe = CLIRunner.executable else { return XCTFail("no executable") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = batch(dir + "/slurm.jsonl")
        p.environment = ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try CLIRunner.run(batch(dir + "/shard.jsonl", ["--shard", "1/3"])).status, 0)
        assertSameResults(try records(dir + "/slurm.jsonl"), try records(dir + "/shard.jsonl"))
        // Appending with other options, or to a file without a journal, is refused.
        CLIRunner.assertCleanError(try CLIRunner.run(batch(dir + "/shard.jsonl", ["--shard", "2/3"])), contains: "another shard")
        try "{}\n".write(toFile: dir + "/foreign.jsonl", atomically: true, encoding: .utf8)
        CLIRunner.assertCleanError(try CLIRunner.run(batch(dir + "/foreign.jsonl")), contains: "no journal")
        CLIRunner.assertCleanError(try CLIRunner.run(batch(dir + "/x.jsonl", ["--max-memory", "1KiB"])), contains: "too small")
        CLIRunner.assertCleanError(
            try CLIRunner.run(["batch", "-m", model, "--input", dir + "/nope.jsonl", "--output", dir + "/y.jsonl"]), contains: "cannot read")
    }
}

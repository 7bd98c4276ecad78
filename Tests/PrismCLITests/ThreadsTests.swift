import Foundation
import XCTest

/// `--threads N`: the numbers never depend on it (the int8 kernels split rows on their tile
/// boundaries and sum each row in one fixed order), `--stats` names it, and 0 is refused.
final class ThreadsTests: XCTestCase {
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/tiny-gemma.prism").path
    static let ids = "2,651,603,576,1000,17,18,19,20"

    func logits(_ extra: [String]) throws -> CLIRunner.Result {
        let r = try CLIRunner.run(["logits", "-m", Self.model, "--ids", Self.ids, "--json", "--full", "--stats"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    /// Bit-identical JSON with 1, 2 and 3 threads (3 splits the 256-row products unevenly), on
    /// both activation routes.
    func testLogitsDoNotDependOnThreads() throws {
        for route in [[], ["--exact-activations"]] {
            let one = try logits(["--threads", "1"] + route)
            XCTAssertTrue(one.stdout.contains("\"logits\""), "no logits in \(one.stdout.prefix(200))")
            for n in [2, 3] {
                let other = try logits(["--threads", "\(n)"] + route)
                XCTAssertEqual(one.stdout, other.stdout, "--threads 1 and --threads \(n) differ (\(route))")
            }
        }
    }

    func testStatsNamesTheThreadCount() throws {
        for n in [1, 2, 7] {
            let r = try logits(["--threads", "\(n)"])
            XCTAssertTrue(r.stderr.contains("threads \(n)"), "--stats does not name \(n) threads: \(r.stderr)")
        }
        // Without --threads: some count of at least one.
        let r = try logits([])
        let line = try XCTUnwrap(r.stderr.split(separator: "\n").first { $0.hasPrefix("stats:") })
        let n = try XCTUnwrap(line.components(separatedBy: "threads ").last.flatMap { Int($0) }, String(line))
        XCTAssertGreaterThanOrEqual(n, 1)
    }

    func testZeroOrNonNumericThreadsAreArgumentErrors() throws {
        for bad in ["0", "-2", "two"] {
            let r = try CLIRunner.run(["logits", "-m", Self.model, "--ids", "2,5", "--threads", bad])
            XCTAssertEqual(r.status, 64, "--threads \(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--threads") || r.stderr.contains("threads"), r.stderr)
            XCTAssertTrue(r.stdout.isEmpty, r.stdout)
        }
    }

    /// Every command that runs the model takes --threads (one sample each) and reports it.
    func testOtherCommandsTakeThreads() throws {
        let runs: [[String]] = [
            ["decompose", "-m", Self.model, "--ids", "2,651,603", "--target", "17", "--json"],
            ["generate", "-m", Self.model, "--ids", "2,651", "--max-tokens", "2"],
            ["bench-child", "-m", Self.model, "--tokens", "4", "--repeats", "1"],
        ]
        for args in runs {
            let r = try CLIRunner.run(args + ["--threads", "2", "--stats"])
            XCTAssertEqual(r.status, 0, "\(args[0]): \(r.stderr)")
            if args[0] == "bench-child" {
                let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
                XCTAssertEqual(obj["threads"] as? Int, 2)
            } else {
                XCTAssertTrue(r.stderr.contains("threads 2"), "\(args[0]): \(r.stderr)")
            }
        }
    }
}

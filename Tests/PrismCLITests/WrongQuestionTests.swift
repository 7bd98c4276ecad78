import Foundation
import XCTest

/// A question about a token the model does not predict is stated, not silently answered: every
/// decomposition names the model's top-1 and each target's rank, and a text target whose twin with
/// (or without) a leading space ranks far higher gets a one-line warning naming it.
final class WrongQuestionTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path

    func testTwinWithALeadingSpaceIsNamed() throws {
        let r = try CLIRunner.run(["decompose", "-m", Self.shipped, "--prompt", "The capital of France is", "--target-token", "Paris", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("warning: target \"Paris\""), r.stderr)
        XCTAssertTrue(r.stderr.contains("did you mean --target-token \" Paris\"?"), r.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let top1 = try XCTUnwrap(obj["model_top1"] as? [String: Any])
        XCTAssertEqual(top1["token"] as? String, " Paris", "the token's text, as every JSON output writes it")
        XCTAssertEqual(top1["id"] as? Int, 715)
        let target = try XCTUnwrap((obj["targets"] as? [[String: Any]])?.first)
        XCTAssertGreaterThan(try XCTUnwrap(target["rank"] as? Int), 10)
    }

    func testRightTargetHasRankOneAndNoWarning() throws {
        let r = try CLIRunner.run([
            "decompose", "-m", Self.shipped, "--prompt", "The capital of France is", "--target-token", " Paris",
            "--target-diff", " Paris", " Rome",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        XCTAssertTrue(r.stdout.contains("model's top-1 here: \" Paris\""), r.stdout)
        XCTAssertTrue(r.stdout.contains("rank 1 of 1024)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("rank 1 / "), "a difference states both ranks: \(r.stdout)")
    }

    /// `paths` names the source token and the head's attention to it, and warns when the chosen
    /// source is one the head does not read (its term is then about zero).
    func testPathsNamesTheSourceAndWarnsWhenTheHeadIgnoresIt() throws {
        let args = ["paths", "-m", Self.shipped, "--prompt", "The capital of France is", "--target-token", " Paris", "--layer", "1", "--head", "0"]
        let read = try CLIRunner.run(args + ["--source", "4"])
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertTrue(read.stdout.contains("source 4 \" France\""), read.stdout)
        XCTAssertEqual(read.stderr, "")
        let ignored = try CLIRunner.run(args + ["--source", "1"])
        XCTAssertEqual(ignored.status, 0, ignored.stderr)
        XCTAssertTrue(ignored.stderr.hasPrefix("warning: L1H0 gives source 1 \"The\" attention 0.0000"), ignored.stderr)
        XCTAssertTrue(ignored.stderr.contains("the head reads 4 \" France\" most"), ignored.stderr)
    }
}

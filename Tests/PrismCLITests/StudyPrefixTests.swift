import Foundation
import XCTest

/// `prism study ... --prefix/--template`: escapes understood, bad ones answered in one line;
/// the prefix used and the capitals left out are said on stderr.
final class StudyPrefixTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws { dir = NSTemporaryDirectory() + "study-prefix-\(UUID().uuidString)" }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testBadEscapeIsOneLineError() throws {
        let f32 = CLIRunner.fixtures + "/tiny-f32"
        CLIRunner.assertCleanError(
            try CLIRunner.run(["study", "capitals", "-m", f32, "-o", dir, "--prefix", #"a\qb"#]), contains: "--prefix: unknown escape")
        CLIRunner.assertCleanError(
            try CLIRunner.run(["study", "addition", "-m", f32, "-o", dir, "--template", #"{a}+{b}=\"#]), contains: "--template ends with a lone backslash")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "nothing written")
    }

    func testPrefixAndLeftOutCapitalsOnStderr() throws {
        let f32 = CLIRunner.fixtures + "/tiny-f32"
        let r = try CLIRunner.run(["study", "capitals", "-m", f32, "-o", dir, "--prefix", #"The capital city of England is London.\n"#])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains(#"note: prefix "The capital city of England is London.\n""#), r.stderr)
        XCTAssertTrue(r.stderr.contains("note: left out (not one token in this vocabulary): Moscow"), r.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any]
        XCTAssertEqual(summary?["prefix"] as? String, "The capital city of England is London.\n")
        XCTAssertTrue((summary?["left_out"] as? [String])?.contains("Moscow") == true)
        let a = try CLIRunner.run(["study", "addition", "-m", f32, "-o", dir + "-add"])
        defer { try? FileManager.default.removeItem(atPath: dir + "-add") }
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("note: prefix none (the default for this model's vocabulary)"), a.stderr)
        XCTAssertTrue(a.stdout.contains("/45 two-digit sums") && a.stdout.contains("/36 one-digit sums"), a.stdout)
    }
}

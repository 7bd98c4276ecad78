import Foundation
import XCTest

final class ConvertCommandTests: XCTestCase {
    func testConvertInspectVerifyAndCorruption() throws {
        let dir = NSTemporaryDirectory() + "cli-convert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/m.prism"
        var r = try CLIRunner.run(["convert", CLIRunner.fixtures + "/tiny-bf16", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("mlp"), r.stdout)
        CLIRunner.assertCleanError(try CLIRunner.run(["convert", CLIRunner.fixtures + "/tiny-bf16", "-o", out]), contains: "--force")
        r = try CLIRunner.run(["verify", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try CLIRunner.run(["inspect", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((obj["tensors"] as? [Any])?.count, 2 + 9 * 3)
        r = try CLIRunner.run(["logits", "-m", out, "--prompt", "The capital of France is", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)

        // Flip one byte in the middle of the data: verify names the tensor and fails.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        bytes[bytes.count / 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        CLIRunner.assertCleanError(try CLIRunner.run(["verify", out]), contains: "checksum mismatch")
        // Truncate it: every command gives a clear error.
        try Data(bytes.prefix(bytes.count - 10)).write(to: URL(fileURLWithPath: out))
        CLIRunner.assertCleanError(try CLIRunner.run(["logits", "-m", out, "--ids", "2"]), contains: "truncated")
        CLIRunner.assertCleanError(try CLIRunner.run(["verify", out]), contains: "truncated")
    }

    func testUnwritableOutputs() throws {
        CLIRunner.assertCleanError(
            try CLIRunner.run(["convert", CLIRunner.fixtures + "/tiny-f32", "-o", "/nonexistent-dir/x.prism"]),
            contains: "directory /nonexistent-dir does not exist")
        CLIRunner.assertCleanError(
            try CLIRunner.run(["run", "-m", CLIRunner.fixtures + "/tiny-f32", "--ids", "2,5", "-o", "/nonexistent-dir/x.acts"]),
            contains: "directory /nonexistent-dir does not exist")
    }

    /// `--quiet` prints one line, the file written (issue 18: it used to print the LZ4 table).
    func testQuietPrintsOneLine() throws {
        let dir = NSTemporaryDirectory() + "cli-quiet-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLIRunner.run(["convert", CLIRunner.fixtures + "/tiny-gemma3", "-o", dir + "/m.prism", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("wrote \(dir)/m.prism: ") == true, r.stdout)
        XCTAssertEqual(r.stderr, "")
    }
}

import Foundation
import XCTest

/// Counts and positions at the edges of `Int` end in one-line errors, never a trap (a fresh
/// user's `--top 9223372036854775807` and `bench --tokens 0` crashed the process), and negative
/// positions are taken as written (`--position -2` was read as an unknown option).
final class CountBoundsTests: XCTestCase {
    let f32 = CLIRunner.fixtures + "/tiny-f32"
    let huge = "9223372036854775807"

    func testHugeCountsAreRefusedWithTheirOption() throws {
        let cases: [([String], String)] = [
            (["decompose", "-m", f32, "--ids", "2,5,9", "--target", "3", "--top", huge], "--top must be between 0 and 16777216"),
            (["lens", "-m", f32, "--ids", "2,5,9", "--top", huge], "--top must be between 0 and 16777216"),
            (["generate", "-m", f32, "--ids", "2,5,9", "--max-tokens", huge], "--max-tokens must be between 1 and 16777216"),
            (["bench", "-m", f32, "--repeats", "1", "--tokens", "0"], "--tokens must be between 1 and 16777216, not 0"),
            (["bench", "-m", f32, "--repeats", "1", "--tokens", huge], "--tokens must be between 1 and 16777216"),
            (["bench", "-m", f32, "--repeats", "0"], "--repeats must be between 1 and 16777216, not 0"),
            (["bench", "-m", f32, "--repeats", "1", "--prism-tokens", "0"], "--prism-tokens must be between 1 and 16777216, not 0"),
            (["bench-child", "-m", f32, "--tokens", huge], "--tokens must be between 1 and 16777216"),
        ]
        for (args, needle) in cases {
            let r = try CLIRunner.run(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Swift runtime failure") || r.stderr.contains("crashed"), "\(args): \(r.stderr)")
        }
    }

    func testNegativePositionsAreTakenAsWritten() throws {
        let spaced = try CLIRunner.run(["decompose", "-m", f32, "--ids", "2,5,9,4", "--target", "3", "--position", "-2", "--json"])
        let joined = try CLIRunner.run(["decompose", "-m", f32, "--ids", "2,5,9,4", "--target", "3", "--position=-2", "--json"])
        XCTAssertEqual(spaced.status, 0, spaced.stderr)
        XCTAssertEqual(spaced.stdout, joined.stdout)
        XCTAssertTrue(spaced.stdout.contains("\"position\" : 2") || spaced.stdout.contains("\"position\":2"), spaced.stdout)
        let source = try CLIRunner.run(["paths", "-m", f32, "--ids", "2,5,9,4", "--target", "3", "--layer", "0", "--head", "0", "--source", "-1"])
        XCTAssertEqual(source.status, 0, source.stderr)
        CLIRunner.assertCleanError(
            try CLIRunner.run(["paths", "-m", f32, "--ids", "2,5", "--target", "3", "--layer", "0", "--head", "0", "--source=-9223372036854775808"]),
            contains: "source -9223372036854775808 is out of range: the prompt has 2 tokens")
    }

    /// A negative number given as its own word reaches the option's own check (it was read as an
    /// option: "Missing value for '--top <top>'"), and a size without unit must be whole bytes.
    func testNegativeNumbersReachTheirChecks() throws {
        let cases: [([String], String)] = [
            (["decompose", "-m", f32, "--ids", "2,5,9", "--target", "3", "--top", "-1"], "--top must be between 0 and 16777216"),
            (["logits", "-m", f32, "--ids", "2,5,9", "--threads", "-1"], "--threads must be between 1 and 1024, not -1"),
            (["logits", "-m", f32, "--ids", "-1"], "--ids: '-1' is not a non-negative integer"),
            (["logits", "-m", f32, "--ids", "2,5", "--max-memory", "-1MiB"], "malformed size '-1MiB'"),
            (["logits", "-m", f32, "--ids", "2,5", "--max-memory", "1.5"], "size '1.5' is a fraction of a byte; give a unit"),
            (["generate", "-m", f32, "--ids", "2,5", "--max-tokens", "-3"], "--max-tokens must be between 1 and 16777216"),
        ]
        for (args, needle) in cases {
            let r = try CLIRunner.run(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
        }
        CLIRunner.assertCleanError(
            try CLIRunner.run(["decompose", "-m", f32, "--ids", "2,5,9", "--target", "-1"]), contains: "target id -1 is outside the vocabulary")
    }

    /// A FIFO or a device as the model or the batch input is refused at once (opening a FIFO
    /// waited for a writer forever).
    func testPipesAndDevicesAreNotFiles() throws {
        let fifo = NSTemporaryDirectory() + "fifo-\(UUID().uuidString)"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { unlink(fifo) }
        CLIRunner.assertCleanError(try CLIRunner.run(["logits", "-m", fifo, "--ids", "2"]), contains: "is not a regular file")
        CLIRunner.assertCleanError(try CLIRunner.run(["inspect", fifo]), contains: "is not a regular file")
        CLIRunner.assertCleanError(
            try CLIRunner.run(["convert", fifo, "-o", fifo + ".prism"]), contains: "is not a regular file (a pipe or a device)")
        CLIRunner.assertCleanError(try CLIRunner.run(["logits", "-m", "/dev/zero", "--ids", "2"]), contains: "is not a regular file")
        CLIRunner.assertCleanError(
            try CLIRunner.run(["batch", "-m", f32, "--input", fifo, "--output", fifo + ".jsonl"]), contains: "not a regular file")
    }

    /// A GGUF given to `inspect`/`verify`, and a converted model given to `convert`, are named
    /// for what they are (they said "bad magic" and "neither a checkpoint directory nor a GGUF").
    func testMistakenFileKindsAreNamed() throws {
        let gguf = CLIRunner.fixtures + "/gguf/types.gguf"
        guard FileManager.default.fileExists(atPath: gguf) else { throw XCTSkip("no GGUF fixture at \(gguf)") }
        CLIRunner.assertCleanError(try CLIRunner.run(["inspect", gguf]), contains: "is a GGUF file, not a converted model: convert it first")
        let prism = CLIRunner.fixtures + "/../../models/tiny-gemma.prism"
        let out = NSTemporaryDirectory() + "again-\(UUID().uuidString).prism"
        CLIRunner.assertCleanError(try CLIRunner.run(["convert", prism, "-o", out]), contains: "is already a converted model")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// `summarize` of a batch input (not its results) is refused, as `merge` refuses it (it wrote
    /// an empty summary); a directory given as batch input is named as one.
    func testSummarizeAndBatchNameWhatTheyWereGiven() throws {
        let dir = NSTemporaryDirectory() + "kinds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"id": "a", "ids": [2, 5, 7], "target_ids": [5]}"#.appending("\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        CLIRunner.assertCleanError(
            try CLIRunner.run(["summarize", dir + "/in.jsonl", "-o", dir + "/s.json"]), contains: "line 1 is not a result record")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/s.json"))
        let batch = try CLIRunner.run(["batch", "-m", f32, "--input", dir, "--output", dir + "/out.jsonl"])
        CLIRunner.assertCleanError(batch, contains: "cannot read batch input \(dir): it is a directory")
    }

    /// `detokenize`'s errors are its own usage errors; a missing peer script is said before any
    /// measurement (the bench ran minutes first, and the default path is the repository's).
    func testDetokenizeAndBenchPeerScriptErrors() throws {
        let model = CLIRunner.fixtures + "/../../models/tiny-gemma.prism"
        let d = try CLIRunner.run(["detokenize", "-m", model, "a,b"])
        XCTAssertEqual(d.status, 64)
        XCTAssertTrue(d.stderr.contains("token ids: 'a' is not a non-negative integer"), d.stderr)
        XCTAssertTrue(d.stderr.contains("Usage: prism detokenize"), d.stderr)
        let b = try CLIRunner.run(["bench", "-m", model, "--repeats", "1", "--peer-gguf", "x.gguf", "--peer-script", "/nonexistent/peer.py"])
        CLIRunner.assertCleanError(b, contains: "peer script /nonexistent/peer.py not found")
        XCTAssertFalse(b.stderr.contains("done"), "no measurement runs first: \(b.stderr)")
    }
}

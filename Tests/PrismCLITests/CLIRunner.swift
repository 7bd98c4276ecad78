import Foundation
import XCTest

/// Runs the built `prism` executable as a real process.
enum CLIRunner {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// The executable sits next to the test bundle in the build directory.
    static var executable: String? {
        var candidates: [String] = []
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            candidates.append(URL(fileURLWithPath: bundle.bundlePath).deletingLastPathComponent().appendingPathComponent("prism").path)
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("prism").path)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/prism").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        guard let exe = executable else {
            XCTFail("prism executable not found next to the tests", file: file, line: line)
            return Result(status: -1, stdout: "", stderr: "")
        }
        return try runProcess(exe, args)
    }

    /// Runs any executable with stdout and stderr captured.
    static func runProcess(_ path: String, _ args: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read before waiting so a large output cannot fill the pipe and block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Asserts a clean failure: non-zero exit, exactly one line `error: ...` containing `needle`.
    static func assertCleanError(_ r: Result, contains needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected failure", file: file, line: line)
        XCTAssertTrue(r.status == 1 || r.status == 64, "exit status \(r.status) is a crash, not an error", file: file, line: line)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "stderr should be one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") || r.stderr.hasPrefix("Error: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "'\(r.stderr)' does not contain '\(needle)'", file: file, line: line)
    }

    /// A fresh copy of a fixture directory to break.
    static func copyFixture(_ name: String) throws -> String {
        let dst = NSTemporaryDirectory() + "cli-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: fixtures + "/" + name, toPath: dst)
        return dst
    }
}

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The README's Slurm job array on a real scheduler: `tools/slurm_check.sh` starts a one-node
/// Slurm cluster on localhost (Debian's `slurm-wlm` and `munge`, installed if missing), submits the
/// example as written with 4 tasks, merges the parts and checks them against an unsharded run,
/// byte for byte by input line.
///
/// It needs root (the throw-away cluster's daemons run as root) and Slurm or a way to install it,
/// so it runs when `PRISM_SLURM_TEST=1` (then every failure, a missing Slurm included, fails the
/// test), or by itself when the tests run as root and Slurm is installed or apt-get is there; it
/// is skipped, with the reason, otherwise and when `PRISM_SLURM_TEST=0`.
final class SlurmTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testReadmeJobArrayOnOneNodeSlurmEqualsUnshardedRun() throws {
        let requested = ProcessInfo.processInfo.environment["PRISM_SLURM_TEST"]
        if requested == "0" { throw XCTSkip("PRISM_SLURM_TEST=0") }
        let forced = requested == "1"
        if !forced {
            try XCTSkipUnless(geteuid() == 0, "needs root for a throw-away Slurm cluster (PRISM_SLURM_TEST=1 to insist)")
            try XCTSkipUnless(
                Self.slurmInstalled || Self.onPath("apt-get"),
                "Slurm is not installed and there is no apt-get to install it (PRISM_SLURM_TEST=1 to insist)")
        }
        let prism = try XCTUnwrap(CLIRunner.executable, "prism executable not found next to the tests")
        let script = Self.root.appendingPathComponent("tools/slurm_check.sh").path

        let r = try runScript(script, prism: prism)
        let report = "tools/slurm_check.sh exited \(r.status):\n\(r.output)"
        // 77: the script could not get Slurm here (not root, or apt-get could not install it).
        if r.status == 77 && !forced {
            let reason = r.output.split(separator: "\n").last { $0.hasPrefix("slurm_check: SKIP:") } ?? "exit 77"
            throw XCTSkip("Slurm cannot run here: \(reason)")
        }
        XCTAssertEqual(r.status, 0, report)
        XCTAssertTrue(r.output.contains("merged == unsharded byte for byte"), report)
        XCTAssertEqual(r.output.components(separatedBy: " COMPLETED 0:0").count - 1, 4, "four array tasks should complete: \(report)")
    }

    /// Runs the script under bash with the tests' own prism binary; stderr joins stdout in one
    /// pipe, so that neither can fill while the other is read.
    private func runScript(_ script: String, prism: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script]
        var env = ProcessInfo.processInfo.environment
        env["PRISM"] = prism
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static var slurmInstalled: Bool {
        ["slurmctld", "slurmd", "sbatch", "munged"].allSatisfy(onPath)
    }

    /// Whether an executable is on PATH or in /usr/sbin (where Debian puts the daemons).
    static func onPath(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return dirs.contains { FileManager.default.isExecutableFile(atPath: $0 + "/" + name) }
    }
}

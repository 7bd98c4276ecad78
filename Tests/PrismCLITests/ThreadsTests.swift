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

    /// A prompt long enough that attention splits its (query, head) pairs over the workers
    /// (120 tokens x 4 heads x 120 keys x 64 dims is over its threshold): the decomposition,
    /// head x source terms included (they read the recorded patterns), is the same bit for bit.
    func testLongPromptAttentionDoesNotDependOnThreads() throws {
        let ids = (0..<120).map { String(2 + ($0 * 37) % 1000) }.joined(separator: ",")
        func decompose(_ n: Int) throws -> String {
            let r = try CLIRunner.run(["decompose", "-m", Self.model, "--ids", ids, "--target", "17", "--json", "--detail", "full", "--threads", "\(n)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout
        }
        let one = try decompose(1)
        XCTAssertTrue(one.contains("\"head_sources\""), String(one.prefix(300)))
        for n in [2, 3] { XCTAssertEqual(try decompose(n), one, "--threads 1 and --threads \(n) differ") }
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

    /// The default follows a cgroup CPU quota (not an affinity mask): the binary run inside a
    /// cgroup made here with a 1-CPU quota says `threads 1`. Needs root and a writable cgroup
    /// file system (v1 cpu controller or v2 with cpu enabled); skipped otherwise.
    func testDefaultFollowsACgroupCPUQuota() throws {
        guard let cgroup = QuotaCgroup.make() else { throw XCTSkip("no writable cgroup with a cpu controller here (needs root)") }
        defer { cgroup.remove() }
        let exe = try XCTUnwrap(CLIRunner.executable)
        func statsThreads(_ quota: String) throws -> Int? {
            try cgroup.setQuota(quota)
            let r = try CLIRunner.runProcess(
                "/bin/sh",
                [
                    "-c", "echo $$ > '\(cgroup.dir)/cgroup.procs' && exec \"$@\"", "sh",
                    exe, "logits", "-m", Self.model, "--ids", "2,5", "--stats",
                ])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stderr.split(separator: "\n").first { $0.hasPrefix("stats:") }?.components(separatedBy: "threads ").last.flatMap { Int($0) }
        }
        XCTAssertEqual(try statsThreads(cgroup.quota(cpus: 1)), 1)
        // A quota of one and a half CPUs rounds up, within what the affinity mask allows.
        let unlimited = try XCTUnwrap(try statsThreads(cgroup.noQuota))
        XCTAssertEqual(try statsThreads(cgroup.quota(cpus: 1.5)), min(2, unlimited))
    }
}

/// A cgroup made for one test under the cpu controller's mount, removed afterwards.
struct QuotaCgroup {
    let dir: String
    let v2: Bool

    /// nil when none can be made here (not root, read-only or absent cgroup file system).
    static func make() -> QuotaCgroup? {
        let name = "prism-threads-test-\(UUID().uuidString.prefix(8))"
        let fm = FileManager.default
        var candidates: [(String, Bool)] = [("/sys/fs/cgroup/cpu", false), ("/sys/fs/cgroup/cpu,cpuacct", false)]
        if let c = fm.contents(atPath: "/sys/fs/cgroup/cgroup.subtree_control"),
            String(decoding: c, as: UTF8.self).split(separator: " ")
                .contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "cpu" })
        {
            candidates.append(("/sys/fs/cgroup", true))
        }
        for (mount, v2) in candidates where fm.fileExists(atPath: mount + (v2 ? "/cgroup.controllers" : "/cpu.cfs_quota_us")) {
            let g = QuotaCgroup(dir: mount + "/" + name, v2: v2)
            do {
                try fm.createDirectory(atPath: g.dir, withIntermediateDirectories: false)
                try g.setQuota(g.noQuota)
                return g
            } catch {
                g.remove()  // not root, or read-only: try the next place, or skip
            }
        }
        return nil
    }

    var noQuota: String { v2 ? "max 100000" : "-1" }
    func quota(cpus: Double) -> String { v2 ? "\(Int(cpus * 100000)) 100000" : "\(Int(cpus * 100000))" }

    func setQuota(_ value: String) throws {
        if !v2 { try "100000".write(toFile: dir + "/cpu.cfs_period_us", atomically: false, encoding: .utf8) }
        try value.write(toFile: dir + (v2 ? "/cpu.max" : "/cpu.cfs_quota_us"), atomically: false, encoding: .utf8)
    }

    func remove() { rmdir(dir) }
}

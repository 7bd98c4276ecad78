import Foundation
import XCTest

/// Nothing a user owns is lost: the real binary against every kind of output fault (README
/// "Bad input", rows from "directory as output" on). Each test failed on the code before the
/// output rule (`Outputs`), the batch lock and line keys, and the mapped-file checks.
final class DataSafetyTests: XCTestCase {
    let f32 = CLIRunner.fixtures + "/tiny-f32"
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "safety-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func run(_ args: [String]) throws -> CLIRunner.Result { try CLIRunner.run(args) }

    func assertError(_ args: [String], _ needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        CLIRunner.assertCleanError(try run(args), contains: needle, file: file, line: line)
    }

    /// Every file below `path` with its bytes: a directory's whole state, to compare before/after.
    func snapshot(_ path: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return [:] }
        if !isDir.boolValue { return ["": try Data(contentsOf: URL(fileURLWithPath: path))] }
        for name in try fm.subpathsOfDirectory(atPath: path) {
            var d: ObjCBool = false
            if fm.fileExists(atPath: path + "/" + name, isDirectory: &d), !d.boolValue {
                out[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
            }
        }
        return out
    }

    func write(_ text: String, _ path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

    func runWithFileSizeLimit(_ blocks: Int, _ args: [String]) throws -> CLIRunner.Result {
        let exe = try XCTUnwrap(CLIRunner.executable)
        return try CLIRunner.runProcess("/bin/sh", ["-c", "trap '' XFSZ; ulimit -f \(blocks) && exec \"$0\" \"$@\"", exe] + args)
    }

    // MARK: outputs

    /// A set under a directory that does not exist is refused before any work, as a single
    /// file is (`--npy /nonexistent/x` created `/nonexistent/x` like `mkdir -p`).
    func testSetUnderAMissingDirectoryIsRefused() throws {
        let missing = dir + "/no-such-dir/x"
        try assertError(["decompose", "-m", f32, "--ids", "2,5,9", "--target", "3", "--npy", missing], "directory \(dir!)/no-such-dir does not exist")
        try assertError(["study", "digits", "-m", f32, "-o", missing], "directory \(dir!)/no-such-dir does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/no-such-dir"))
    }

    /// One-character output names in the working directory (`-o y`, `--npy q`): Foundation's
    /// path methods trapped on them (exit 132, SIGILL) before the outputs' paths were split in
    /// plain Swift (`PathNames`).
    func testOneCharacterOutputNamesAreWritten() throws {
        let exe = try XCTUnwrap(CLIRunner.executable)
        let inDir = { (args: [String]) in try CLIRunner.runProcess("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", self.dir, exe] + args) }
        let study = try inDir(["study", "digits", "-m", f32, "-o", "y"])
        XCTAssertEqual(study.status, 0, study.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/y/.prism-output"))
        let npy = try inDir(["decompose", "-m", f32, "--ids", "2,5,9", "--target", "3", "--npy", "q"])
        XCTAssertEqual(npy.status, 0, npy.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/q/.prism-output"))
        let run = try inDir(["run", "-m", f32, "--ids", "2,5,9", "-o", "r"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/r"))
    }

    /// A directory given where a file is expected is refused, never removed (it was deleted
    /// recursively by `run -o DIR`, `convert -o DIR --force` and `merge -o DIR --force`).
    func testDirectoryAsOutputIsRefusedAndKept() throws {
        let target = dir + "/precious"
        try FileManager.default.createDirectory(atPath: target + "/sub", withIntermediateDirectories: true)
        try write("thesis", target + "/thesis.txt")
        try write("data", target + "/sub/data.csv")
        let before = try snapshot(target)
        try assertError(["run", "-m", f32, "--ids", "2,5", "-o", target], "\(target) is a directory")
        try assertError(["run", "-m", f32, "--ids", "2,5", "-o", target, "--force"], "\(target) is a directory")
        try assertError(["convert", f32, "-o", target, "--force", "--quiet"], "\(target) is a directory")
        let part = dir + "/part.jsonl"
        try write(#"{"frozen": [], "id": "a", "line": 1}"# + "\n", part)
        try assertError(["merge", part, "-o", target, "--force"], "\(target) is a directory")
        try assertError(["summarize", part, "-o", target, "--force"], "\(target) is a directory")
        XCTAssertEqual(try snapshot(target), before)
    }

    /// An output that is one of the command's inputs is refused, whatever the spelling.
    func testOutputThatIsAnInputIsRefused() throws {
        let checkpoint = dir + "/ck"
        try FileManager.default.copyItem(atPath: f32, toPath: checkpoint)
        let before = try snapshot(checkpoint)
        try assertError(["convert", checkpoint, "-o", checkpoint, "--force", "--quiet"], "is this command's input")
        try assertError(["convert", checkpoint, "-o", checkpoint + "/model.safetensors", "--force", "--quiet"], "is this command's input")
        XCTAssertEqual(try snapshot(checkpoint), before, "checkpoint changed")
        let model = dir + "/m.prism"
        XCTAssertEqual(try run(["convert", checkpoint, "-o", model, "--quiet"]).status, 0)
        let modelBytes = try snapshot(model)
        try assertError(["run", "-m", model, "--ids", "2,5", "-o", model, "--force"], "is this command's input")
        try assertError(["run", "-m", model, "--ids", "2,5", "-o", dir + "/./m.prism", "--force"], "is this command's input")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.prism", withDestinationPath: model)
        try assertError(["run", "-m", model, "--ids", "2,5", "-o", dir + "/link.prism", "--force"], "is this command's input")
        XCTAssertEqual(try snapshot(model), modelBytes, "model changed")
        let input = dir + "/in.jsonl"
        try write(#"{"id": "a", "ids": [2, 5, 7], "target_ids": [5]}"# + "\n", input)
        let inputBytes = try snapshot(input)
        try assertError(["batch", "-m", model, "--input", input, "--output", dir + "/out.jsonl", "--summary", input, "--force"], "is this command's input")
        try assertError(["batch", "-m", model, "--input", input, "--output", input], "is this command's input")
        XCTAssertEqual(try snapshot(input), inputBytes, "batch input changed")
        let results = dir + "/out.jsonl"
        XCTAssertEqual(try run(["batch", "-m", model, "--input", input, "--output", results, "--quiet"]).status, 0)
        let resultBytes = try snapshot(results)
        try assertError(["summarize", results, "-o", results, "--force"], "is this command's input")
        try assertError(["merge", results, "-o", results, "--force"], "is this command's input")
        XCTAssertEqual(try snapshot(results), resultBytes, "results changed")
    }

    /// One overwrite rule: an existing output is replaced only with --force (run and summarize
    /// used to overwrite silently while convert and merge refused).
    func testEveryCommandNeedsForceToReplace() throws {
        let acts = dir + "/r.acts"
        try write("mine", acts)
        try assertError(["run", "-m", f32, "--ids", "2,5", "-o", acts], "\(acts) exists; pass --force to replace it")
        XCTAssertEqual(try String(contentsOfFile: acts, encoding: .utf8), "mine")
        XCTAssertEqual(try run(["run", "-m", f32, "--ids", "2,5", "-o", acts, "--force"]).status, 0)
        XCTAssertGreaterThan(try snapshot(acts)[""]?.count ?? 0, 64)

        let input = dir + "/in.jsonl", results = dir + "/out.jsonl", summary = dir + "/summary.json"
        try write(#"{"id": "a", "ids": [2, 5, 7], "target_ids": [5]}"# + "\n", input)
        XCTAssertEqual(try run(["batch", "-m", f32, "--input", input, "--output", results, "--quiet"]).status, 0)
        try write("{}", summary)
        try assertError(["summarize", results, "-o", summary], "\(summary) exists; pass --force")
        try assertError(["batch", "-m", f32, "--input", input, "--output", results, "--quiet", "--summary", summary], "\(summary) exists; pass --force")
        XCTAssertEqual(try String(contentsOfFile: summary, encoding: .utf8), "{}")
        XCTAssertEqual(try run(["summarize", results, "-o", summary, "--force"]).status, 0)

        let npy = dir + "/npy"
        let args = ["decompose", "-m", f32, "--ids", "2,5,7", "--target", "5", "--npy", npy]
        XCTAssertEqual(try run(args).status, 0)
        try assertError(args, "\(npy) exists and is not empty; pass --force")
        XCTAssertEqual(try run(args + ["--force"]).status, 0)
        let study = dir + "/study"
        XCTAssertEqual(try run(["study", "digits", "-m", f32, "-o", study]).status, 0)
        try assertError(["study", "digits", "-m", f32, "-o", study], "\(study) exists and is not empty; pass --force")
        XCTAssertEqual(try run(["study", "digits", "-m", f32, "-o", study, "--force"]).status, 0)
    }

    /// `--force` on a directory replaces only the files prism wrote there; a directory holding
    /// anything else is refused as it is.
    func testForceNeverRemovesFilesPrismDidNotWrite() throws {
        let npy = dir + "/npy"
        let args = ["decompose", "-m", f32, "--ids", "2,5,7", "--target", "5", "--npy", npy, "--force"]
        XCTAssertEqual(try run(args).status, 0)
        try write("my notes", npy + "/notes.txt")
        let before = try snapshot(npy)
        try assertError(args, "\(npy) holds notes.txt, which prism did not write there")
        XCTAssertEqual(try snapshot(npy), before)
        let home = dir + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try write("keep", home + "/.bashrc")
        try assertError(["study", "digits", "-m", f32, "-o", home, "--force"], "\(home) holds .bashrc, which prism did not write there")
        XCTAssertEqual(try String(contentsOfFile: home + "/.bashrc", encoding: .utf8), "keep")
    }

    /// Rewriting a set (`--npy`, `--csv`, `study -o`) that fails midway (file size limit, as a
    /// full disk) keeps the old set whole: it used to lose 3 of 7 `.npy` files.
    func testSetRewriteUnderAFailingWriteKeepsTheOldSet() throws {
        for flag in ["--npy", "--csv"] {
            let out = dir + "/set" + flag
            let base = ["decompose", "-m", f32, "--ids", "2,5,7", "--target", "5", "--target", "6", flag, out]
            XCTAssertEqual(try run(base).status, 0)
            let before = try snapshot(out)
            XCTAssertGreaterThan(before.count, 3)
            let r = try runWithFileSizeLimit(4, base + ["--force", "--ids", "2,5,9"])
            CLIRunner.assertCleanError(r, contains: "File too large")
            XCTAssertEqual(try snapshot(out), before, "\(flag): the old set must survive")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [], "temporaries left")
        }
        let study = dir + "/study"
        XCTAssertEqual(try run(["study", "addition", "-m", f32, "-o", study]).status, 0)
        let before = try snapshot(study)
        CLIRunner.assertCleanError(
            try runWithFileSizeLimit(32, ["study", "addition", "-m", f32, "-o", study, "--force", "--example", "3,4"]),
            contains: "File too large")
        XCTAssertEqual(try snapshot(study), before, "study: the old report must survive")
    }

    /// A link planted at the name a temporary used to have (`OUT.partial`) is never written through.
    func testPlantedPartialLinkIsNotFollowed() throws {
        let victim = dir + "/victim.txt"
        try write("do not touch", victim)
        for (args, out) in [
            (["convert", f32, "-o", dir + "/m.prism", "--quiet"], dir + "/m.prism"),
            (["run", "-m", f32, "--ids", "2,5", "-o", dir + "/r.acts"], dir + "/r.acts"),
        ] {
            try FileManager.default.createSymbolicLink(atPath: out + ".partial", withDestinationPath: victim)
            let r = try run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "do not touch")
            XCTAssertGreaterThan(try snapshot(out)[""]?.count ?? 0, 64)
        }
    }

    // MARK: batch

    func batchInput(_ n: Int, path: String) throws {
        var lines: [String] = []
        for i in 0..<n { lines.append(#"{"id": "r\#(i)", "ids": [2, \#(5 + i % 50), \#(7 + i % 30), 9, 11], "target_ids": [5, 680]}"#) }
        try write(lines.joined(separator: "\n") + "\n", path)
    }

    /// A second `prism batch` on an output being written refuses with one line naming the holder;
    /// the first finishes with every record exactly once.
    func testSecondWriterIsRefused() throws {
        let input = dir + "/in.jsonl", out = dir + "/out.jsonl"
        try batchInput(400, path: input)
        let exe = try XCTUnwrap(CLIRunner.executable)
        let first = Process()
        first.executableURL = URL(fileURLWithPath: exe)
        first.arguments = ["batch", "-m", f32, "--input", input, "--output", out, "--chunk", "1", "--quiet"]
        first.standardError = FileHandle.nullDevice
        try first.run()
        // Wait until the first holds the lock (its note names it), then start a second.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, (try? String(contentsOfFile: out + ".lock", encoding: .utf8))?.contains("pid \(first.processIdentifier)") != true {
            usleep(10_000)
        }
        let second = try run(["batch", "-m", f32, "--input", input, "--output", out, "--quiet"])
        first.waitUntilExit()
        CLIRunner.assertCleanError(second, contains: "\(out) is locked: another prism batch is writing it (pid \(first.processIdentifier) on ")
        XCTAssertEqual(first.terminationStatus, 0)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 400)
        XCTAssertEqual(try run(["merge", out, "-o", dir + "/merged.jsonl", "--input", input]).status, 0)
    }

    /// Every input line yields exactly one record, keyed by its line: ids that look like the old
    /// generated ones (`ID#lineN`, `line:N`) are ordinary ids, and a kill and resume keeps each once.
    func testGeneratedIdsCannotCollide() throws {
        let input = dir + "/in.jsonl", out = dir + "/out.jsonl"
        let lines = [
            #"{"id": "a", "ids": [2, 5, 7], "target_ids": [5]}"#,
            #"{"id": "a", "ids": [2, 5, 8], "target_ids": [5]}"#,
            #"{"id": "a#line2", "ids": [2, 5, 9], "target_ids": [5]}"#,
            #"not json"#,
            #"{"id": "line:4", "ids": [2, 5, 10], "target_ids": [5]}"#,
            #"{"id": "dup-key", "id": "b", "ids": [2, 5, 11], "target_ids": [5]}"#,
        ]
        try write(lines.joined(separator: "\n") + "\n", input)
        let r = try run(["batch", "-m", f32, "--input", input, "--output", out, "--quiet", "--chunk", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var byLine: [Int: [String: Any]] = [:]
        for l in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
            byLine[try XCTUnwrap(obj["line"] as? Int)] = obj
        }
        XCTAssertEqual(Set(byLine.keys), [1, 2, 3, 4, 5, 6])
        XCTAssertNil(byLine[3]?["error"], "a real id a#line2 is a record, not a duplicate's error")
        XCTAssertEqual(byLine[3]?["id"] as? String, "a#line2")
        XCTAssertNil(byLine[5]?["error"], "a real id line:4 is a record")
        XCTAssertTrue((byLine[2]?["error"] as? String)?.contains("duplicate id 'a'") == true)
        XCTAssertTrue((byLine[4]?["error"] as? String)?.contains("not a JSON object") == true)
        XCTAssertTrue((byLine[6]?["error"] as? String)?.contains("has the key \"id\" twice") == true, "\(byLine[6] ?? [:])")
        XCTAssertEqual(try run(["merge", out, "-o", dir + "/merged.jsonl", "--input", input]).status, 0)
    }

    /// A record that cannot fit the budget even alone becomes an error record naming what it
    /// needs, and the job goes on (it used to abort every rerun at the same record).
    func testPoisonRecordBecomesAnErrorRecord() throws {
        let input = dir + "/in.jsonl", out = dir + "/out.jsonl"
        let many = (0..<10_240).map { String($0 % 1517) }.joined(separator: ", ")
        try write(
            [
                #"{"id": "ok1", "ids": [2, 5, 7], "target_ids": [5]}"#,
                #"{"id": "huge", "ids": [2, 5, 7], "target_ids": [\#(many)]}"#,
                #"{"id": "ok2", "ids": [2, 5, 9], "target_ids": [6]}"#,
            ].joined(separator: "\n") + "\n", input)
        let args = ["batch", "-m", f32, "--input", input, "--output", out, "--quiet", "--max-memory", "64MiB"]
        let r = try run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        var byId: [String: [String: Any]] = [:]
        for l in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
            byId[try XCTUnwrap(obj["id"] as? String)] = obj
        }
        XCTAssertNil(byId["ok1"]?["error"])
        XCTAssertNil(byId["ok2"]?["error"])
        let e = try XCTUnwrap(byId["huge"]?["error"] as? String)
        XCTAssertTrue(e.contains("10240 targets do not fit the memory budget") && e.contains("need at least"), e)
        XCTAssertEqual(try run(args).status, 0, "a rerun is done, not a crash loop")
    }

    // MARK: the model changes under a running command

    /// Truncating the model under a running batch: one line, exit 1, never a SIGBUS backtrace.
    /// Rewriting it in place at the same size: exit 1 before the chunk is committed, and a rerun
    /// refuses the changed model instead of saying "all done".
    func testModelChangedWhileRunning() throws {
        let exe = try XCTUnwrap(CLIRunner.executable)
        let input = dir + "/in.jsonl"
        try batchInput(3000, path: input)
        let pristine = dir + "/pristine.prism"
        XCTAssertEqual(try run(["convert", f32, "-o", pristine, "--quiet"]).status, 0)
        for mode in ["truncate", "rewrite"] {
            let model = dir + "/\(mode).prism", out = dir + "/\(mode).jsonl"
            try FileManager.default.copyItem(atPath: pristine, toPath: model)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["batch", "-m", model, "--input", input, "--output", out, "--chunk", "1", "--quiet"]
            let err = Pipe()
            p.standardError = err
            try p.run()
            // Once results are flowing, change the model under it.
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, ((try? FileManager.default.attributesOfItem(atPath: out))?[.size] as? Int ?? 0) < 2000 { usleep(5_000) }
            let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: model))
            if mode == "truncate" {
                try h.truncate(atOffset: 4096)
            } else {
                // Same size, other bytes: flip the weights after the header.
                let size = try h.seekToEnd()
                try h.seek(toOffset: 4096)
                let chunk = try h.read(upToCount: Int(size) - 8192) ?? Data()
                try h.seek(toOffset: 4096)
                try h.write(contentsOf: Data(chunk.map { $0 ^ 0x5a }))
            }
            try h.close()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, "\(mode): killed by a signal: \(e)")
            XCTAssertEqual(p.terminationStatus, 1, "\(mode): \(e)")
            XCTAssertEqual(e.split(separator: "\n").count, 1, "\(mode): one line: \(e)")
            XCTAssertTrue(e.contains("\(model) changed while running"), "\(mode): \(e)")
            if mode == "rewrite" {
                try assertError(["batch", "-m", model, "--input", input, "--output", out, "--quiet"], "\(model)")
            }
        }
    }

    // MARK: smaller

    func testPositionAndGenerateMessages() throws {
        try assertError(
            ["decompose", "-m", f32, "--ids", "2,10", "--target", "5", "--position=-3"],
            "position -3 is out of range: the prompt has 2 tokens (0..1, or -2..-1 counting from the end, -1 the last)")
        // max_position_embeddings is 128 in the fixture: 120 prompt tokens leave room for 8 more in the cache, and a 9th generated from the last.
        let ids = ([2] + Array(repeating: 5, count: 119)).map(String.init).joined(separator: ",")
        let r = try run(["generate", "-m", f32, "--ids", ids, "--max-tokens", "20", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("note: stopped after 9 of --max-tokens 20"), r.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["stopped"] as? String, "context_full")
        XCTAssertEqual((obj["generated"] as? [Int])?.count, 9)
    }

    // MARK: what resumes a batch job

    /// Lines appended to a finished output by someone else are refused on resume, not cut off
    /// (the resume used to truncate the file back to its journal, deleting them silently).
    func testBatchRefusesBytesItDidNotWrite() throws {
        let input = dir + "/in.jsonl", out = dir + "/out.jsonl"
        try batchInput(6, path: input)
        let args = ["batch", "-m", f32, "--input", input, "--output", out, "--quiet", "--chunk", "2"]
        XCTAssertEqual(try run(args).status, 0)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: out))
        try h.seekToEnd()
        try h.write(contentsOf: Data(#"{"line": 99, "id": "mine", "targets": []}"#.utf8 + [10]))
        try h.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        try assertError(args, "\(out) is longer (\(before.count) bytes) than prism wrote")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before, "nothing was cut")
    }

    /// A batch output's journal and lock are never replaced, not even with --force (a summary or
    /// merge written over the journal lost the whole job), and the batch's own --summary may not
    /// name its output (that was found only after every record had run).
    func testBatchJournalAndLockAreNeverReplaced() throws {
        let input = dir + "/in.jsonl", out = dir + "/out.jsonl"
        try batchInput(4, path: input)
        XCTAssertEqual(try run(["batch", "-m", f32, "--input", input, "--output", out, "--quiet"]).status, 0)
        let journal = try Data(contentsOf: URL(fileURLWithPath: out + ".journal"))
        try assertError(["summarize", out, "-o", out + ".journal", "--force"], "belongs to the batch output \(out)")
        try assertError(["merge", out, "-o", out + ".lock", "--force"], "belongs to the batch output \(out)")
        try assertError(["summarize", out, "-o", out, "--force"], "is this command's input")
        let second = dir + "/second.jsonl"
        XCTAssertEqual(try run(["batch", "-m", f32, "--input", input, "--output", second, "--quiet"]).status, 0)
        try assertError(["summarize", out, "-o", second, "--force"], "\(second) is a batch job's output (it has a journal)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + ".journal")), journal)
        let other = dir + "/other.jsonl"
        let r = try run(["batch", "-m", f32, "--input", input, "--output", other, "--summary", other, "--quiet"])
        CLIRunner.assertCleanError(r, contains: "\(other) is this command's input")
        XCTAssertFalse(FileManager.default.fileExists(atPath: other), "refused before any record ran")
        // A file of the lock's name that prism did not write is not overwritten.
        try write("my notes\n", dir + "/third.jsonl.lock")
        try assertError(["batch", "-m", f32, "--input", input, "--output", dir + "/third.jsonl", "--quiet"], "is not a prism batch lock")
        XCTAssertEqual(try String(contentsOfFile: dir + "/third.jsonl.lock", encoding: .utf8), "my notes\n")
        // A link as the output: refused (two names would be two locks of one file).
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.jsonl", withDestinationPath: dir + "/nowhere.jsonl")
        try assertError(["batch", "-m", f32, "--input", input, "--output", dir + "/link.jsonl", "--quiet"], "is a link")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/nowhere.jsonl"))
    }

    /// The route is part of a job: a resume with --exact-activations refuses to append to int8
    /// records, and merge refuses shards of two routes or two models.
    func testBatchRouteIsPartOfTheJob() throws {
        let int8 = dir + "/m.prism", input = dir + "/in.jsonl"
        XCTAssertEqual(try run(["convert", f32, "-o", int8, "--quiet"]).status, 0)
        try batchInput(6, path: input)
        let a = dir + "/a.jsonl"
        XCTAssertEqual(try run(["batch", "-m", int8, "--input", input, "--output", a, "--quiet", "--shard", "0/2"]).status, 0)
        try assertError(
            ["batch", "-m", int8, "--input", input, "--output", a, "--quiet", "--shard", "0/2", "--exact-activations"],
            "was written with another options (detail=summary top=10 route=int8, now detail=summary top=10 route=exact)")
        let b = dir + "/b.jsonl", c = dir + "/c.jsonl"
        XCTAssertEqual(
            try run(["batch", "-m", int8, "--input", input, "--output", b, "--quiet", "--shard", "1/2", "--exact-activations"]).status, 0)
        try assertError(["merge", a, b, "-o", dir + "/ab.jsonl", "--input", input], "were made with different options")
        XCTAssertEqual(try run(["batch", "-m", f32, "--input", input, "--output", c, "--quiet", "--shard", "1/2"]).status, 0)
        try assertError(["merge", a, c, "-o", dir + "/ac.jsonl", "--input", input], "were made with different models")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ab.jsonl"))
    }

    /// --shards N without a task index would have every task run every record.
    func testShardsNeedAnIndex() throws {
        let input = dir + "/in.jsonl"
        try batchInput(3, path: input)
        try assertError(
            ["batch", "-m", f32, "--input", input, "--output", dir + "/o.jsonl", "--shards", "3"],
            "--shards 3 needs this task's index: set JOB_COMPLETION_INDEX")
    }

    func testVersion() throws {
        let r = try run(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("0."), r.stdout)
    }
}

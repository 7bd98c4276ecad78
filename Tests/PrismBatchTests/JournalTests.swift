import Foundation
import PrismBatch
import PrismSupport
import XCTest

/// A fresh directory per test, removed afterwards.
class BatchFilesTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "prism-batch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(atPath: dir) }

    func write(_ text: String, _ path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

    func read(_ path: String) throws -> String { String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self) }

    func append(_ text: String, _ path: String) throws {
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
        try h.close()
    }

    func message(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch {
            if let e = error as? PrismError { return e.message }
            XCTFail("expected a PrismError, got \(error)", file: file, line: line)
        }
        return ""
    }
}

final class JournalTests: BatchFilesTestCase {
    /// A header as `prism batch` writes it (its memberwise init is internal: decoded instead).
    var header: Journal.Header {
        get throws {
            let json = #"{"format": "\#(Journal.Header.currentFormat)", "model": "xxh64:0123", "input": "xxh64:4567", "shard": "0/1", "options": "detail=top"}"#
            return try JSONDecoder().decode(Journal.Header.self, from: Data(json.utf8))
        }
    }
    var output: String { dir + "/out.jsonl" }
    var journalPath: String { output + ".journal" }

    func testResumesWhereItStopped() throws {
        do {
            let j = try Journal(path: journalPath, header: try header, output: output)
            XCTAssertEqual(j.completed, [])
            XCTAssertEqual(j.committedBytes, 0)
            try j.commit(lines: [1, 2], outputBytes: 100)
            try j.commit(lines: [4], outputBytes: 150)
        }
        let j = try Journal(path: journalPath, header: try header, output: output)
        XCTAssertEqual(j.completed, [1, 2, 4])
        XCTAssertEqual(j.committedBytes, 150)
        try j.commit(lines: [5], outputBytes: 180)
        let again = try Journal(path: journalPath, header: try header, output: output)
        XCTAssertEqual(again.completed, [1, 2, 4, 5])
        XCTAssertEqual(again.committedBytes, 180)
    }

    /// A line torn by a kill does not count; it is cut off, and the next commit follows the
    /// last good line.
    func testTornLineIsCutOff() throws {
        do {
            let j = try Journal(path: journalPath, header: try header, output: output)
            try j.commit(lines: [1], outputBytes: 10)
        }
        let good = try read(journalPath)
        try append(#"{"chunk":1,"lines":[2,3],"by"#, journalPath)
        do {
            let j = try Journal(path: journalPath, header: try header, output: output)
            XCTAssertEqual(j.completed, [1])
            XCTAssertEqual(j.committedBytes, 10)
            XCTAssertEqual(try read(journalPath), good, "the torn line is gone")
            try j.commit(lines: [2], outputBytes: 20)
        }
        let j = try Journal(path: journalPath, header: try header, output: output)
        XCTAssertEqual(j.completed, [1, 2])
        XCTAssertEqual(j.committedBytes, 20)
        XCTAssertEqual(try read(journalPath).split(separator: "\n").count, 3, "header and two chunks")
    }

    func testRefusesAnotherRunsJournal() throws {
        _ = try Journal(path: journalPath, header: try header, output: output)
        var other = try header
        other.model = "xxh64:ffff"
        other.options = "detail=full"
        XCTAssertEqual(
            message { _ = try Journal(path: self.journalPath, header: other, output: self.output) },
            "\(output) was written with another model and options (detail=top, now detail=full) (see \(journalPath)); refusing to append — use another --output or remove both files"
        )

        try write(#"{"format":"logit-prisms batch journal 1","model":"m","input":"i","shard":"0/1","options":""}"# + "\n", journalPath)
        XCTAssertTrue(
            message { _ = try Journal(path: self.journalPath, header: try self.header, output: self.output) }
                .contains("was written by another version of prism (logit-prisms batch journal 1)"))

        try write("results, not a journal\n", journalPath)
        XCTAssertEqual(
            message { _ = try Journal(path: self.journalPath, header: try self.header, output: self.output) },
            "\(journalPath) is not a batch journal; remove it (and \(output)) to start over")
    }

    func testRefusesAnOutputWithoutJournal() throws {
        try write("{}\n", output)
        XCTAssertEqual(
            message { _ = try Journal(path: self.journalPath, header: try self.header, output: self.output) },
            "\(output) exists but has no journal; refusing to append to it — use another --output or remove it")
        XCTAssertFalse(FileManager.default.fileExists(atPath: journalPath))
    }

    /// The results file is cut back to what the journal committed (a chunk not journalled),
    /// as far as a pending intent says prism may have written.
    func testResultsFileKeepsOnlyCommittedBytes() throws {
        try write("line one\nline two\nhalf a li", output)
        let r = try ResultsFile(path: output, committed: 18, bound: 30)
        XCTAssertEqual(try read(output), "line one\nline two\n")
        try r.append(lines: ["line three"])
        XCTAssertEqual(r.bytes, 29)
        XCTAssertEqual(try read(output), "line one\nline two\nline three\n")
        XCTAssertTrue(
            message { _ = try ResultsFile(path: self.output, committed: 100, bound: 100) }
                .contains("is shorter (29 bytes) than its journal says (100); it was modified outside prism"))
    }

    /// Bytes past what prism may have written (lines a user appended to a finished output) are
    /// refused, not cut: the file is left as it is.
    func testResultsFileRefusesBytesPrismDidNotWrite() throws {
        try write("line one\nline two\nsomeone else's line\n", output)
        XCTAssertEqual(
            message { _ = try ResultsFile(path: self.output, committed: 18, bound: 18) },
            "\(output) is longer (38 bytes) than prism wrote (18, by its journal); it was modified outside prism: restore it, or use another --output"
        )
        XCTAssertEqual(try read(output), "line one\nline two\nsomeone else's line\n", "nothing was cut")
    }

    /// An intent bounds what a resume may cut: pending until its chunk commits, void after.
    func testIntentBoundsWhatPrismMayHaveWritten() throws {
        do {
            let j = try Journal(path: journalPath, header: try header, output: output)
            try j.commit(lines: [1], outputBytes: 10)
            try j.intend(outputBytes: 25)
        }
        do {
            let j = try Journal(path: journalPath, header: try header, output: output)
            XCTAssertEqual(j.committedBytes, 10)
            XCTAssertEqual(j.writtenBytesBound, 25, "a chunk may have been appended before the kill")
            try j.intend(outputBytes: 25)
            try j.commit(lines: [2], outputBytes: 25)
        }
        let j = try Journal(path: journalPath, header: try header, output: output)
        XCTAssertEqual(j.committedBytes, 25)
        XCTAssertEqual(j.writtenBytesBound, 25, "no intent pending")
    }
}

final class OutputLockTests: BatchFilesTestCase {
    /// flock belongs to an open file, so a second open in the same process is a second holder
    /// and is refused, naming the first.
    func testSecondHolderIsRefused() throws {
        let output = dir + "/out.jsonl"
        XCTAssertNil(OutputLock.holder(of: output), "no lock file yet")
        var first: OutputLock? = try OutputLock(output: output)
        XCTAssertEqual(first?.path, output + ".lock")
        let note = try XCTUnwrap(OutputLock.holder(of: output))
        XCTAssertTrue(note.hasPrefix("pid \(getpid()) on "), note)
        XCTAssertEqual(
            message { _ = try OutputLock(output: output) },
            "\(output) is locked: another prism batch is writing it (\(note)); wait for it to end or use another --output")

        first = nil
        XCTAssertNil(OutputLock.holder(of: output), "released when its holder goes")
        XCTAssertNoThrow(try OutputLock(output: output))
        XCTAssertTrue(FileManager.default.fileExists(atPath: output + ".lock"), "the lock file stays")
    }

    func testLockInMissingDirectoryIsOneLine() {
        let output = dir + "/nowhere/out.jsonl"
        XCTAssertTrue(message { _ = try OutputLock(output: output) }.hasPrefix("cannot open \(output).lock: "))
    }
}

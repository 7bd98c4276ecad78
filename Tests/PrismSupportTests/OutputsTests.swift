import Foundation
import PrismSupport
import XCTest

/// The output rule (Sources/PrismSupport/Outputs.swift): what may be written where, and that a
/// file or a set of files appears whole or not at all.
final class OutputsCheckTests: TemporaryDirectoryTestCase {
    func testCheckFile() throws {
        let out = dir + "/out.json", input = dir + "/model.prism"
        try write("weights", input)
        XCTAssertNoThrow(try Outputs.checkFile(out, force: false, inputs: [input]))
        XCTAssertEqual(message { try Outputs.checkFile("", force: true, inputs: []) }, "the output path is empty")
        XCTAssertTrue(message { try Outputs.checkFile(self.dir, force: true, inputs: []) }.contains("is a directory; give a file name"))
        XCTAssertTrue(
            message { try Outputs.checkFile(self.dir + "/nowhere/out.json", force: true, inputs: []) }.contains("directory \(dir!)/nowhere does not exist"))

        try write("old", out)
        XCTAssertEqual(message { try Outputs.checkFile(out, force: false, inputs: [input]) }, "\(out) exists; pass --force to replace it")
        XCTAssertNoThrow(try Outputs.checkFile(out, force: true, inputs: [input]))

        // An input is refused by identity, however it is spelled (another path, a hard link).
        XCTAssertTrue(message { try Outputs.checkFile(self.dir + "/./model.prism", force: true, inputs: [input]) }.contains("is this command's input"))
        XCTAssertEqual(link(input, dir + "/alias"), 0)
        XCTAssertTrue(message { try Outputs.checkFile(self.dir + "/alias", force: true, inputs: [input]) }.contains("is this command's input \(input)"))

        // A dangling link is replaced only with force; a FIFO never.
        XCTAssertEqual(symlink(dir + "/gone", dir + "/dangling"), 0)
        XCTAssertTrue(message { try Outputs.checkFile(self.dir + "/dangling", force: false, inputs: []) }.contains("(a link); pass --force"))
        XCTAssertNoThrow(try Outputs.checkFile(dir + "/dangling", force: true, inputs: []))
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o644), 0)
        XCTAssertTrue(message { try Outputs.checkFile(self.dir + "/fifo", force: true, inputs: []) }.contains("is not a regular file"))
    }

    func testCheckSet() throws {
        let set = dir + "/set", input = dir + "/model.prism"
        try write("weights", input)
        XCTAssertNoThrow(try Outputs.checkSet(set, force: false, inputs: [input]), "a missing directory is fine")
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: false)
        XCTAssertNoThrow(try Outputs.checkSet(set, force: false, inputs: [input]), "an empty one too")

        XCTAssertEqual(message { try Outputs.checkSet("", force: true, inputs: []) }, "the output directory is empty")
        XCTAssertEqual(message { try Outputs.checkSet(input, force: true, inputs: []) }, "\(input) exists and is not a directory")
        XCTAssertTrue(message { try Outputs.checkSet(self.dir, force: true, inputs: [input]) }.contains("holds this command's input \(input)"))

        try writeFileSet(set, [("a.csv", Data("1\n".utf8))], force: false)
        XCTAssertTrue(message { try Outputs.checkSet(set, force: false, inputs: [input]) }.contains("exists and is not empty; pass --force"))
        XCTAssertNoThrow(try Outputs.checkSet(set, force: true, inputs: [input]), "a set prism wrote may be replaced")

        try write("mine", set + "/notes.txt")
        XCTAssertEqual(
            message { try Outputs.checkSet(set, force: true, inputs: [input]) },
            "\(set) holds notes.txt, which prism did not write there; choose a new or empty directory")
        try FileManager.default.removeItem(atPath: set + "/notes.txt")

        try write("not json", set + "/" + Outputs.manifestName)
        XCTAssertTrue(message { try Outputs.checkSet(set, force: true, inputs: [input]) }.contains("is not a prism output manifest"))
    }

    /// A manifest cannot make prism claim files outside the directory.
    func testManifestNamesOnlyPlainFiles() throws {
        let set = dir + "/set"
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: false)
        try write(#"{"files": ["../x", "a/b", "..", "ok"], "written_by": "prism"}"#, set + "/" + Outputs.manifestName)
        try write("1", set + "/ok")
        XCTAssertNoThrow(try Outputs.checkSet(set, force: true, inputs: []))
        try FileManager.default.createDirectory(atPath: set + "/a", withIntermediateDirectories: false)
        XCTAssertTrue(message { try Outputs.checkSet(set, force: true, inputs: []) }.contains("holds a, which prism did not write"))
    }
}

final class FileSetTests: TemporaryDirectoryTestCase {
    var set: String { dir + "/set" }

    func files(_ pairs: [(String, String)]) -> [(name: String, bytes: Data)] { pairs.map { ($0.0, Data($0.1.utf8)) } }

    func testWritesFilesAndManifest() throws {
        XCTAssertNil(try writeFileSet(set, files([("b.svg", "<svg/>"), ("a.csv", "x\n")]), force: false))
        XCTAssertEqual(try snapshot(set).filter { $0.key != Outputs.manifestName }, ["b.svg": "<svg/>", "a.csv": "x\n"])
        let manifest = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: set + "/" + Outputs.manifestName))) as? [String: Any])
        XCTAssertEqual(manifest["files"] as? [String], ["b.svg", "a.csv"])
        XCTAssertEqual(manifest["written_by"] as? String, "prism")
        XCTAssertEqual(try list(dir), ["set"], "no temporary directory left beside the set")
    }

    /// With force a new set replaces the old one whole: a file only the old set had is gone.
    func testForceSwapsTheSetInWhole() throws {
        try writeFileSet(set, files([("old.csv", "1"), ("shared.csv", "old")]), force: false)
        let before = try snapshot(set)
        XCTAssertTrue(message { try writeFileSet(self.set, self.files([("shared.csv", "new")]), force: false) }.contains("pass --force"))
        XCTAssertEqual(try snapshot(set), before, "refused without force: untouched")

        XCTAssertNil(try writeFileSet(set, files([("shared.csv", "new"), ("added.csv", "2")]), force: true))
        XCTAssertEqual(try snapshot(set).filter { $0.key != Outputs.manifestName }, ["shared.csv": "new", "added.csv": "2"])
        XCTAssertEqual(try list(dir), ["set"], "the old set's directory is removed")
    }

    func testForeignFileRefusedEvenWithForce() throws {
        try writeFileSet(set, files([("a.csv", "1")]), force: false)
        try write("precious", set + "/thesis.tex")
        let before = try snapshot(set)
        XCTAssertTrue(message { try writeFileSet(self.set, self.files([("a.csv", "2")]), force: true) }.contains("holds thesis.tex, which prism did not write"))
        XCTAssertEqual(try snapshot(set), before)
    }

    func testInputInsideTheSetIsRefused() throws {
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: false)
        try write("weights", set + "/model.prism")
        XCTAssertTrue(
            message { try writeFileSet(self.set, self.files([("a.csv", "1")]), force: true, inputs: [self.set + "/model.prism"]) }
                .contains("holds this command's input"))
        XCTAssertEqual(try list(set), ["model.prism"])
    }

    /// A set that fails midway (here: an invalid name after a good file) leaves the old set as
    /// it was and no partial directory beside it.
    func testFailingWriteKeepsTheOldSet() throws {
        try writeFileSet(set, files([("a.csv", "old")]), force: false)
        let before = try snapshot(set)
        XCTAssertTrue(
            message { try writeFileSet(self.set, self.files([("a.csv", "new"), ("sub/b.csv", "x")]), force: true) }.contains("bad file name 'sub/b.csv'"))
        XCTAssertEqual(try snapshot(set), before)
        XCTAssertEqual(try list(dir), ["set"])
    }

    /// The same for a real write failure: a file-size limit makes the second file's write fail
    /// with EFBIG (SIGXFSZ ignored meanwhile, the limit restored after).
    func testWriteFailureFromTheSystemKeepsTheOldSet() throws {
        try writeFileSet(set, files([("a.csv", "old")]), force: false)
        let before = try snapshot(set)
        let big = String(repeating: "x", count: 64 * 1024)
        let error = withFileSizeLimit(16 * 1024) {
            message { try writeFileSet(self.set, self.files([("a.csv", "new"), ("big.csv", big)]), force: true) }
        }
        XCTAssertTrue(error.contains("cannot write \(set)/big.csv: File too large"), error)
        XCTAssertEqual(try snapshot(set), before)
        XCTAssertEqual(try list(dir), ["set"])
    }
}

/// Runs `body` with RLIMIT_FSIZE's soft limit at `bytes` (and SIGXFSZ ignored, so a write past
/// it fails with EFBIG instead of killing the test process).
func withFileSizeLimit<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
    var old = rlimit()
    getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
    let oldHandler = signal(SIGXFSZ, SIG_IGN)
    var limited = old
    limited.rlim_cur = rlim_t(bytes)
    setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited)
    defer {
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, oldHandler)
    }
    return try body()
}

final class AtomicOutputTests: TemporaryDirectoryTestCase {
    func testNothingAppearsBeforeCommit() throws {
        let path = dir + "/out.bin"
        let out = try AtomicOutput(path: path, force: false)
        try out.write(Data("hello world".utf8))
        try out.write(Array("HELLO".utf8), at: 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        try out.commit()
        XCTAssertEqual(try read(path), "HELLO world")
        XCTAssertEqual(try list(dir), ["out.bin"], "no temporary left")
    }

    func testDiscardLeavesNothing() throws {
        let path = dir + "/out.bin"
        do {
            let out = try AtomicOutput(path: path, force: false)
            try out.write(Data("partial".utf8))
            out.discard()
        }
        do {
            // Dropped without commit (a thrown error on the way): the same.
            let out = try AtomicOutput(path: path, force: false)
            try out.write(Data("partial".utf8))
        }
        XCTAssertEqual(try list(dir), [])
    }

    func testTruncateRewindsTheWriter() throws {
        let path = dir + "/out.txt"
        let out = try AtomicOutput(path: path, force: false)
        try out.write(Data("first attempt, too long".utf8))
        try out.truncate(to: 5)
        try out.write(Data(" second".utf8))
        try out.commit()
        XCTAssertEqual(try read(path), "first second")
    }

    /// Without force, a file that appeared while writing is not replaced; with force it is,
    /// by rename: a hard link to the old file keeps the old bytes (never rewritten in place).
    func testForceReplacesByRenameOnly() throws {
        let path = dir + "/out.txt"
        let out = try AtomicOutput(path: path, force: false)
        try out.write(Data("new".utf8))
        try write("appeared", path)
        XCTAssertEqual(message { try out.commit() }, "\(path) appeared while writing it; pass --force to replace it")
        XCTAssertEqual(try read(path), "appeared")
        out.discard()

        XCTAssertEqual(link(path, dir + "/old-link"), 0)
        try writeFileAtomically(Data("replaced".utf8), to: path, force: true)
        XCTAssertEqual(try read(path), "replaced")
        XCTAssertEqual(try read(dir + "/old-link"), "appeared")
        XCTAssertEqual(try list(dir), ["old-link", "out.txt"])
    }

    func testFailedWriteNamesThePathAndLeavesNothing() throws {
        let path = dir + "/big.bin"
        let error = withFileSizeLimit(4096) {
            message {
                let out = try AtomicOutput(path: path, force: false)
                try out.write(Data(count: 64 * 1024))
                try out.commit()
            }
        }
        XCTAssertEqual(error, "cannot write \(path): File too large")
        XCTAssertEqual(try list(dir), [])
    }

    func testMissingDirectoryIsOneLine() {
        let path = dir + "/nowhere/out.bin"
        XCTAssertTrue(message { _ = try AtomicOutput(path: path, force: false) }.hasPrefix("cannot write \(path): "))
    }
}

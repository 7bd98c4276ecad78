import Foundation
import PrismSupport
import XCTest

final class MappedFileTests: TemporaryDirectoryTestCase {
    func testMapsTheFileBytes() throws {
        let path = dir + "/data"
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let f = try MappedFile(path: path)
        XCTAssertEqual(f.size, bytes.count)
        XCTAssertEqual(Array(f.all), bytes)
        XCTAssertEqual(Array(f.bytes(100..<110)), Array(bytes[100..<110]))
        // Giving pages back does not lose data: they are read again from the file.
        f.release(0..<f.size)
        f.willNeed(0..<f.size)
        XCTAssertEqual(Array(f.bytes(9_990..<10_000)), Array(bytes[9_990..<10_000]))
    }

    func testEmptyFileHasNoMapping() throws {
        let path = dir + "/empty"
        try write("", path)
        let f = try MappedFile(path: path)
        XCTAssertEqual(f.size, 0)
        XCTAssertNil(f.base)
        XCTAssertEqual(f.all.count, 0)
        XCTAssertNoThrow(try f.checkUnchanged())
    }

    func testRefusesDirectoriesAndMissingFiles() {
        XCTAssertTrue(message { _ = try MappedFile(path: self.dir) }.contains("is a directory"))
        XCTAssertTrue(message { _ = try MappedFile(path: self.dir + "/missing") }.hasPrefix("cannot open \(dir!)/missing"))
    }

    /// A file rewritten in place under the mapping is caught; one replaced by rename is not a
    /// change (the mapping keeps the old file).
    func testCheckUnchangedSeesInPlaceRewritesOnly() throws {
        let path = dir + "/weights"
        try write("0123456789", path)
        let f = try MappedFile(path: path)
        XCTAssertNoThrow(try f.checkUnchanged())

        try write("replacement", dir + "/new")
        XCTAssertEqual(rename(dir + "/new", path), 0)
        XCTAssertNoThrow(try f.checkUnchanged())
        XCTAssertEqual(String(decoding: f.all, as: UTF8.self), "0123456789")

        let g = try MappedFile(path: path)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data("more".utf8))
        try h.close()
        XCTAssertTrue(message { try g.checkUnchanged() }.contains("\(path) changed while running"))
        XCTAssertTrue(message { try MappedFile.checkAllUnchanged() }.contains("changed while running"))
    }
}

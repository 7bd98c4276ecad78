import Foundation
import XCTest

@testable import PrismSupport

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

/// A streamed layer is released in whole 2 MiB units of the address space, so no PMD mapping of
/// the file is split (a split region faults back 4 KiB at a time on every later step).
final class ReleaseSpanTests: XCTestCase {
    let mib = 1 << 20

    func testWidenedOutwardToWholeUnits() {
        // A mapping at a 2 MiB boundary: offsets and addresses agree modulo the unit.
        let r = MappedFile.widened((3 * mib + 5)..<(7 * mib + 1), address: 64 * mib, size: 100 * mib, unit: 2 * mib)
        XCTAssertEqual(r, (2 * mib)..<(8 * mib))
    }

    func testUnitsFollowTheAddressNotTheOffset() {
        // A mapping 1 MiB past a boundary: unit edges sit at odd MiB offsets.
        let r = MappedFile.widened((2 * mib)..<(2 * mib + 10), address: 65 * mib, size: 100 * mib, unit: 2 * mib)
        XCTAssertEqual(r, (1 * mib)..<(3 * mib))
    }

    func testClippedToTheMapping() {
        XCTAssertEqual(MappedFile.widened(10..<20, address: 65 * mib, size: 5 * mib, unit: 2 * mib), 0..<(1 * mib))
        XCTAssertEqual(MappedFile.widened((4 * mib)..<(5 * mib), address: 64 * mib, size: 5 * mib, unit: 2 * mib), (4 * mib)..<(5 * mib))
    }

    func testAlreadyAlignedIsUnchanged() {
        XCTAssertEqual(MappedFile.widened((2 * mib)..<(6 * mib), address: 0, size: 8 * mib, unit: 2 * mib), (2 * mib)..<(6 * mib))
    }
}

import Foundation
import PrismFormats
import PrismSupport
import XCTest

/// Writes safetensors files byte by byte, so each test controls exactly what the header says.
enum SafeTensorsWriter {
    static func file(header: String, data: [UInt8]) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        return out + h + data
    }

    static func f32(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }
}

final class SafeTensorsTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "st-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = dir + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(bytes)))
        return p
    }

    func assertError(_ body: () throws -> Void, contains needle: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error containing '\(needle)'", file: file, line: line)
        } catch let e as PrismError {
            XCTAssertTrue(e.message.contains(needle), "'\(e.message)' does not contain '\(needle)'", file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), "error must be one line", file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testReadsF32AndBF16Views() throws {
        let a = SafeTensorsWriter.f32([1, -2, 3.5, 0.25, 8, 9])
        let b: [UInt8] = [0x80, 0x3f, 0x00, 0xc0]  // bf16 1.0, -2.0
        let header =
            #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]}}"#
        let p = write("model.safetensors", SafeTensorsWriter.file(header: header, data: a + b))
        let f = try SafeTensorsFile(path: p)
        XCTAssertEqual(f.metadata["format"], "pt")
        let va = try XCTUnwrap(f.view("a"))
        XCTAssertEqual(va.shape, [2, 3])
        XCTAssertEqual(try va.floats(), [1, -2, 3.5, 0.25, 8, 9])
        XCTAssertEqual(try XCTUnwrap(f.view("b")).floats(), [1, -2])
    }

    func testTruncatedFile() {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let full = SafeTensorsWriter.file(header: header, data: SafeTensorsWriter.f32([1, 2, 3, 4]))
        let p = write("t.safetensors", Array(full.prefix(full.count - 5)))
        assertError({ _ = try SafeTensorsFile(path: p) }, contains: "out of bounds")
        let p2 = write("t2.safetensors", Array(full.prefix(20)))
        assertError({ _ = try SafeTensorsFile(path: p2) }, contains: "truncated")
        let p3 = write("t3.safetensors", [1, 2, 3])
        assertError({ _ = try SafeTensorsFile(path: p3) }, contains: "truncated")
    }

    func testOutOfBoundsOffset() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        let p = write("oob.safetensors", SafeTensorsWriter.file(header: header, data: SafeTensorsWriter.f32([1, 2])))
        assertError({ _ = try SafeTensorsFile(path: p) }, contains: "tensor a: data_offsets [8, 16] out of bounds")
    }

    func testShapeMismatchOverlapAndJunk() {
        let data = SafeTensorsWriter.f32([1, 2, 3, 4])
        let mismatch = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#
        assertError(
            { _ = try SafeTensorsFile(path: self.write("m.safetensors", SafeTensorsWriter.file(header: mismatch, data: data))) },
            contains: "is 12 bytes but data_offsets span 16")
        let overlap = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        assertError(
            { _ = try SafeTensorsFile(path: self.write("o.safetensors", SafeTensorsWriter.file(header: overlap, data: data))) },
            contains: "overlap")
        assertError(
            { _ = try SafeTensorsFile(path: self.write("j.safetensors", SafeTensorsWriter.file(header: "{nope", data: data))) },
            contains: "not valid JSON")
        let huge = SafeTensorsWriter.file(header: "{}", data: []).enumerated().map { $0.offset == 7 ? UInt8(0x7f) : $0.element }
        assertError({ _ = try SafeTensorsFile(path: self.write("h.safetensors", huge)) }, contains: "cap")
        let badDtype = #"{"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}}"#
        assertError(
            { _ = try SafeTensorsFile(path: self.write("d.safetensors", SafeTensorsWriter.file(header: badDtype, data: data))) },
            contains: "unknown dtype")
        let negative = #"{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#
        assertError(
            { _ = try SafeTensorsFile(path: self.write("n.safetensors", SafeTensorsWriter.file(header: negative, data: data))) },
            contains: "non-negative")
    }

    func testShardedCheckpointAndMissingShard() throws {
        let h1 = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let h2 = #"{"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        _ = write("model-00001-of-00002.safetensors", SafeTensorsWriter.file(header: h1, data: SafeTensorsWriter.f32([1, 2])))
        _ = write("model-00002-of-00002.safetensors", SafeTensorsWriter.file(header: h2, data: SafeTensorsWriter.f32([3, 4])))
        let index = #"{"metadata":{"total_size":16},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}}"#
        _ = write("model.safetensors.index.json", Array(index.utf8))
        let ckpt = try SafeTensorsCheckpoint(directory: dir)
        XCTAssertEqual(ckpt.tensorNames, ["x", "y"])
        XCTAssertEqual(try ckpt.require("y").floats(), [3, 4])

        try FileManager.default.removeItem(atPath: dir + "/model-00002-of-00002.safetensors")
        assertError({ _ = try SafeTensorsCheckpoint(directory: self.dir) }, contains: "shard model-00002-of-00002.safetensors named in the index is missing")

        let escaping = #"{"weight_map":{"x":"../model-00001-of-00002.safetensors"}}"#
        _ = write("model.safetensors.index.json", Array(escaping.utf8))
        assertError({ _ = try SafeTensorsCheckpoint(directory: self.dir) }, contains: "bad shard name")
    }
}

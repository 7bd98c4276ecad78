import Foundation
import PrismFormats
import PrismSupport
import XCTest

/// Each bad GGUF file is refused with its one-line error, before anything large is allocated.
final class GGUFBadInputTests: XCTestCase {
    let path = "m.gguf"

    func parse(_ bytes: [UInt8]) throws -> GGUFLayout { try bytes.withUnsafeBytes { try GGUFFile.parse($0, path: path) } }

    func assertRefused(_ bytes: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try parse(bytes)
            XCTFail("accepted; expected '\(message)'", file: file, line: line)
        } catch let e as PrismError {
            XCTAssertEqual(e.message, message, file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    /// A valid file with one Q8_0 tensor of 2 blocks (68 bytes) at offset 0.
    func valid() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.kvString("general.architecture", "gemma3")
        b.kvU32("gemma3.block_count", 18)
        b.tensor("blk.0.attn_q.weight", dims: [64, 1], type: 8, offset: 0)
        b.data = [UInt8](repeating: 0, count: 68)
        return b
    }

    func testTheBaseFileIsValid() throws {
        let layout = try parse(valid().bytes)
        XCTAssertEqual(layout.tensors.first?.range.count, 68)
        XCTAssertEqual(layout.metadataKeys, ["general.architecture", "gemma3.block_count"])
    }

    func testMagicAndVersion() {
        var b = valid()
        b.magic = Array("GGUG".utf8)
        assertRefused(b.bytes, "m.gguf: not a GGUF file (bad magic)")
        assertRefused(Array("GG".utf8), "m.gguf: not a GGUF file (2 bytes, too short for the magic)")
        b = valid()
        b.version = 1
        assertRefused(b.bytes, "m.gguf: GGUF version 1 is not supported (only versions 2 and 3; re-convert the model with a current llama.cpp)")
        b.version = 4
        assertRefused(b.bytes, "m.gguf: GGUF version 4 is not supported (only versions 2 and 3)")
        b.version = 0x0300_0000
        assertRefused(b.bytes, "m.gguf: big-endian GGUF files are not supported")
        b.version = 2
        XCTAssertNoThrow(try parse(b.bytes))
    }

    /// Every prefix of the fixture is refused in one line; cut inside the data, the tensor it cuts is named.
    func testTruncatedAtEveryByte() throws {
        let all = [UInt8](try Data(contentsOf: URL(fileURLWithPath: GGUFTests.typesPath)))
        let layout = try parse(all)
        let lastInfoEnd = layout.dataStart - layout.alignment  // some point before the padding
        // The writer pads the file after the last tensor too: cutting that padding loses nothing.
        let end = try XCTUnwrap(layout.tensors.map(\.range.upperBound).max())
        XCTAssertNoThrow(try parse(Array(all[0..<end])))
        for n in 0..<end {
            do {
                _ = try parse(Array(all[0..<n]))
                XCTFail("prefix of \(n) bytes accepted")
            } catch let e as PrismError {
                XCTAssertFalse(e.message.contains("\n"))
                XCTAssertTrue(e.message.hasPrefix("m.gguf: "), e.message)
                if n >= layout.dataStart { XCTAssertTrue(e.message.contains("is outside the file (\(n) bytes)"), "\(n): \(e.message)") }
                if n > 24, n < lastInfoEnd { XCTAssertTrue(e.message.contains("truncated ("), "\(n): \(e.message)") }
            }
        }
        // Cut inside metadata key 20's name (far enough in that the tensor count still fits the prefix).
        let key = Array("test.nested".utf8)
        let at = try XCTUnwrap((0..<all.count).first { Array(all[$0..<($0 + key.count)]) == key })
        assertRefused(Array(all[0..<(at + 3)]), "m.gguf: truncated (metadata key 20 runs past the end)")
        let last = try XCTUnwrap(layout.tensors.last)
        XCTAssertEqual(last.range.upperBound, end)
        assertRefused(Array(all[0..<(end - 1)]), "m.gguf: tensor \(last.name) (bytes \(last.range.lowerBound)..<\(end)) is outside the file (\(end - 1) bytes)")
    }

    func testTensorChecks() {
        var b = valid()
        b.tensors = []
        b.tensor("blk.0.attn_q.weight", dims: [64, 1], type: 99, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor blk.0.attn_q.weight has unknown ggml type 99")
        b.tensors = []
        b.tensor("x", dims: [64, 1], type: 4, offset: 0)  // Q4_2, removed from ggml
        assertRefused(b.bytes, "m.gguf: tensor x has unknown ggml type 4")
        b.tensors = []
        b.tensor("x", dims: [64, 2], type: 8, offset: 0)
        let start = b.bytes.count - 68  // the data start, the same for every tensor x below
        assertRefused(b.bytes, "m.gguf: tensor x (bytes \(start)..<\(start + 136)) is outside the file (\(start + 68) bytes)")
        b.tensors = []
        b.tensor("x", dims: [64, 1], type: 8, offset: 1 << 63)
        let far = UInt64(start) + (1 << 63)
        assertRefused(b.bytes, "m.gguf: tensor x (bytes \(far)..<\(far + 68)) is outside the file (\(start + 68) bytes)")
        b.tensors = []
        b.tensor("x", dims: [64, 1], type: 8, offset: UInt64.max - 31)
        assertRefused(b.bytes, "m.gguf: tensor x (bytes \(start) + \(UInt64.max - 31)..<(overflow)) is outside the file (\(start + 68) bytes)")
        b.tensors = []
        b.tensor("x", dims: [32, 1], type: 8, offset: 16)
        assertRefused(b.bytes, "m.gguf: tensor x offset 16 is not a multiple of the alignment 32")
    }

    func testOverlapAndDuplicates() {
        var b = valid()
        b.tensors = []
        b.tensor("a", dims: [64, 1], type: 8, offset: 0)  // bytes 0..<68 of the data
        b.tensor("b", dims: [32, 1], type: 8, offset: 64)  // 64..<98: overlaps a's last 4 bytes
        b.data = [UInt8](repeating: 0, count: 128)
        let s = b.bytes.count - 128
        assertRefused(b.bytes, "m.gguf: tensors a (bytes \(s)..<\(s + 68)) and b (bytes \(s + 64)..<\(s + 98)) overlap")
        b.tensors = []
        b.tensor("a", dims: [32, 1], type: 8, offset: 0)
        b.tensor("a", dims: [32, 1], type: 8, offset: 64)
        assertRefused(b.bytes, "m.gguf: duplicate tensor name a (tensors 0 and 1)")
        b = valid()
        b.kvU32("gemma3.block_count", 2)
        assertRefused(b.bytes, "m.gguf: duplicate metadata key gemma3.block_count")
    }

    func testShapeChecks() {
        var b = valid()
        b.tensors = []
        b.tensor("x", dims: [48, 1], type: 8, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor x has rows of 48 elements, not a multiple of Q8_0's block of 32")
        b.tensors = []
        b.tensor("x", dims: [64, 0], type: 8, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor x has dimension 0 (must be positive)")
        b.tensors = []
        b.tensor("x", dims: [1, 1, 1, 1, 1], type: 0, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor x has 5 dimensions (expected 1 to 4)")
        b.tensors = []
        b.tensor("x", dims: [1 << 32, 1 << 32], type: 0, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor x has dims [4294967296, 4294967296] whose element count overflows")
        b.tensors = []
        b.tensor("x", dims: [1 << 61], type: 0, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor x has dims [2305843009213693952] whose byte size overflows")
        b.tensors = []
        b.tensor("", dims: [1], type: 0, offset: 0)
        assertRefused(b.bytes, "m.gguf: tensor 0 has an empty name")
    }

    /// Counts far beyond what the file can hold are refused before anything is reserved.
    func testHugeCounts() {
        var b = valid()
        b.tensorCount = 1 << 60
        assertRefused(b.bytes, "m.gguf: truncated (header claims 1152921504606846976 tensors, more than a file of \(b.bytes.count) bytes can hold)")
        b = valid()
        b.kvCount = UInt64.max
        assertRefused(b.bytes, "m.gguf: truncated (header claims 18446744073709551615 metadata entries, more than a file of \(b.bytes.count) bytes can hold)")
        b = valid()
        b.kvs.append(GGUFBuilder.str("k") + GGUFBuilder.le(UInt32(9)) + GGUFBuilder.le(UInt32(0)) + GGUFBuilder.le(UInt64(1) << 40))
        do {
            _ = try parse(b.bytes)
            XCTFail("a 2^40-element array accepted")
        } catch {
            XCTAssertTrue("\(error)".hasPrefix("m.gguf: truncated (metadata k claims 1099511627776 uint8 elements, more than the "), "\(error)")
        }
        b = valid()
        b.kvs.append(GGUFBuilder.str("k") + GGUFBuilder.le(UInt32(8)) + GGUFBuilder.le(UInt64.max))
        assertRefused(b.bytes, "m.gguf: truncated (metadata k value runs past the end)")
        b = valid()
        b.kvs.insert(GGUFBuilder.le(UInt64.max - 1) + Array("key".utf8), at: 1)
        assertRefused(b.bytes, "m.gguf: truncated (metadata key 1 runs past the end)")
    }

    func testMetadataChecks() {
        var b = valid()
        b.kv("k", type: 13, [0])
        assertRefused(b.bytes, "m.gguf: metadata k has unknown value type 13")
        b = valid()
        b.kv("k", type: 7, [2])
        assertRefused(b.bytes, "m.gguf: metadata k has bool value 2 (not 0 or 1)")
        b = valid()
        b.kv("k", type: 8, GGUFBuilder.le(UInt64(2)) + [0xC3, 0x28])
        assertRefused(b.bytes, "m.gguf: metadata k value is not valid UTF-8")
        b = valid()
        b.kvs.append(GGUFBuilder.le(UInt64(2)) + [0xFF, 0xFE] + GGUFBuilder.le(UInt32(0)) + [0])
        assertRefused(b.bytes, "m.gguf: metadata key 2 is not valid UTF-8")
        b = valid()
        b.kv("", type: 0, [0])
        assertRefused(b.bytes, "m.gguf: metadata key 2 is empty")
        b = valid()
        b.kv("k", type: 9, GGUFBuilder.le(UInt32(14)) + GGUFBuilder.le(UInt64(0)))
        assertRefused(b.bytes, "m.gguf: metadata k is an array of unknown value type 14")
        // Arrays nested 9 deep (each level one element): refused before the stack grows.
        var nested = GGUFBuilder.le(UInt32(0)) + GGUFBuilder.le(UInt64(1)) + [7]
        for _ in 0..<9 { nested = GGUFBuilder.le(UInt32(9)) + GGUFBuilder.le(UInt64(1)) + nested }
        b = valid()
        b.kv("k", type: 9, Array(nested.dropFirst(12)))
        assertRefused(b.bytes, "m.gguf: metadata k nests arrays more than 8 deep")
        // An empty array still reads back, with its element type.
        b = valid()
        b.kv("k", type: 9, GGUFBuilder.le(UInt32(8)) + GGUFBuilder.le(UInt64(0)))
        XCTAssertEqual(try parse(b.bytes).metadata["k"], .array(.string, []))
    }

    func testAlignment() throws {
        var b = valid()
        b.kv("general.alignment", type: 4, GGUFBuilder.le(UInt32(48)))
        assertRefused(b.bytes, "m.gguf: metadata general.alignment = 48 is not a power of two")
        b = valid()
        b.kvU32("general.alignment", 0)
        assertRefused(b.bytes, "m.gguf: metadata general.alignment = 0 is not a power of two")
        b = valid()
        b.kvString("general.alignment", "32")
        assertRefused(b.bytes, "m.gguf: metadata general.alignment has type string, expected uint32")
        b = valid()
        b.kvU32("general.alignment", 256)
        b.alignment = 256
        let layout = try parse(b.bytes)
        XCTAssertEqual(layout.alignment, 256)
        XCTAssertEqual(layout.dataStart, 256)
        b.alignment = 32  // data written at a 32-byte boundary, read at the 256-byte one
        XCTAssertThrowsError(try parse(b.bytes))
    }
}

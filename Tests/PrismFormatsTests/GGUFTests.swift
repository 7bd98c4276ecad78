import Foundation
import PrismFormats
import PrismSupport
import XCTest

/// The GGUF reader and the ggml dequantizer against the `gguf` Python package, on the fixtures
/// tools/make_gguf_fixtures.py writes (Tests/Fixtures/gguf/: a tensor of each supported type,
/// a metadata value of each type, and gguf.quants.dequantize's output per tensor).
final class GGUFTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gguf").path
    static var typesPath: String { dir + "/types.gguf" }

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/" + name))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every tensor dequantizes to exactly the bits gguf.quants.dequantize gives (0 ulp: the same
    /// f32 operations in the same order; NaN and signed zeros compared by bit pattern too).
    func testDequantizationEqualsTheGGUFPackageBitForBit() throws {
        let f = try GGUFFile(path: Self.typesPath)
        let supported = GGMLType.allCases.filter(\.canDequantize)
        XCTAssertEqual(Set(f.tensors.map(\.type)), Set(supported), "the fixture has one tensor per supported type")
        for t in f.tensors {
            let expected = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/expected/\(t.name).f32"))
            let want = expected.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian } }
            let got = try f.floats(of: t).map(\.bitPattern)
            XCTAssertEqual(got.count, t.elementCount, t.name)
            XCTAssertEqual(got.count, want.count, t.name)
            let differing = zip(got, want).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(t.name): \(differing) of \(got.count) values differ from gguf.quants.dequantize")
        }
    }

    func testTensorInfos() throws {
        let f = try GGUFFile(path: Self.typesPath)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f.dataStart % 64, 0)
        XCTAssertEqual(f.tensors.map(\.name).first, "t.F32")
        let q4k = try XCTUnwrap(f.tensor(named: "t.Q4_K"))
        XCTAssertEqual(q4k.type, .Q4_K)
        XCTAssertEqual(q4k.dims, [512, 2])
        XCTAssertEqual(q4k.shape, [2, 512])
        XCTAssertEqual(q4k.elementCount, 1024)
        XCTAssertEqual(q4k.byteCount, 4 * 144)
        XCTAssertEqual(f.bytes(of: q4k).count, 4 * 144)
        XCTAssertNil(f.tensor(named: "missing"))
        var end = f.dataStart
        for t in f.tensors {
            XCTAssertEqual(t.offset % 64, 0, t.name)
            XCTAssertEqual(t.range.lowerBound, f.dataStart + t.offset)
            XCTAssertGreaterThanOrEqual(t.range.lowerBound, end, "\(t.name) overlaps its predecessor")
            XCTAssertEqual(t.byteCount, t.elementCount / t.type.blockSize * t.type.typeSize)
            XCTAssertEqual(t.rowCount * t.rowLength, t.elementCount)
            end = t.range.upperBound
        }
        XCTAssertLessThanOrEqual(end, f.file.size)
    }

    /// Block sizes and bytes per block equal gguf's GGML_QUANT_SIZES for every type both know,
    /// but Q8_1: gguf 0.19 still has its old f32 d and s (40 bytes); ggml-common.h's block_q8_1
    /// has f16 d and s (36). No GGUF stores Q8_1 (it is ggml's activation format).
    func testTypeSizesMatchTheGGUFPackage() throws {
        let sizes = try json("types.json")
        var checked = 0
        XCTAssertEqual(GGMLType.Q8_1.typeSize, 36)
        for t in GGMLType.allCases where t != .Q8_1 {
            guard let pair = sizes[t.name] as? [Int] else { continue }
            XCTAssertEqual([t.blockSize, t.typeSize], pair, t.name)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 33)
        for name in sizes.keys { XCTAssertNotNil(GGMLType.allCases.first { $0.name == name }, "gguf knows \(name), GGMLType does not") }
    }

    /// Metadata read back equals what the script wrote: keys in file order, every type.
    func testMetadataValuesEqualWhatWasWritten() throws {
        let f = try GGUFFile(path: Self.typesPath)
        let expected = try json("metadata.json")
        XCTAssertEqual(f.metadataKeys, expected["keys"] as? [String])
        let values = try XCTUnwrap(expected["values"] as? [String: Any])
        XCTAssertEqual(values.count, f.metadata.count)
        for key in f.metadataKeys {
            let want = try XCTUnwrap(values[key] as? [String: Any], key)
            XCTAssertEqual(describe(try XCTUnwrap(f.metadata[key])) as NSDictionary, want as NSDictionary, key)
        }
    }

    /// The same description the fixture script writes (integers as decimal strings, floats as hex bits).
    func describe(_ v: GGUFValue) -> [String: Any] {
        let type = "\(v.type)"
        switch v {
        case .array(let t, let items): return ["type": "array", "element": "\(t)", "items": items.map(describe)]
        case .float32(let x): return ["type": type, "bits": String(format: "%08x", x.bitPattern)]
        case .float64(let x): return ["type": type, "bits": String(format: "%016llx", x.bitPattern)]
        case .bool(let b): return ["type": type, "value": b]
        case .string(let s): return ["type": type, "value": s]
        case .uint64(let x): return ["type": type, "value": "\(x)"]
        case .int64(let x): return ["type": type, "value": "\(x)"]
        default: return ["type": type, "value": "\(v.integer.map(String.init) ?? "?")"]
        }
    }

    func testTypedGetters() throws {
        let f = try GGUFFile(path: Self.typesPath)
        XCTAssertEqual(try f.int("test.uint32"), 4_000_000_000)
        XCTAssertEqual(try f.int("test.int8"), -100)
        XCTAssertEqual(try f.int("test.int64"), Int.min)
        XCTAssertEqual(try f.float("test.float32"), Double(Float(1e-6)))
        XCTAssertEqual(try f.float("test.float64"), 3.141592653589793)
        XCTAssertEqual(try f.string("test.string"), "Grüße, 世界 ▁ 🙂")
        XCTAssertEqual(try f.bool("test.bool_true"), true)
        XCTAssertEqual(try f.stringArray("test.strings"), ["<pad>", "<eos>", "▁the", "\n", "é"])
        XCTAssertEqual(try f.floatArray("test.floats"), [0, -1.5, 1e30, -2.5e-8])
        XCTAssertEqual(try f.intArray("test.ints"), [1, -2, 3])
        XCTAssertNil(try f.intIfPresent("absent"))
        XCTAssertNil(try f.stringArrayIfPresent("absent"))
        XCTAssertEqual(try f.stringIfPresent("general.architecture"), "test")
        let p = Self.typesPath
        assertError({ _ = try f.int("absent.key") }, is: "\(p): metadata absent.key is missing")
        assertError({ _ = try f.int("test.string") }, is: "\(p): metadata test.string has type string, expected an integer")
        assertError({ _ = try f.intIfPresent("test.float32") }, is: "\(p): metadata test.float32 has type float32, expected an integer")
        assertError({ _ = try f.int("test.uint64") }, is: "\(p): metadata test.uint64 = 18446744073709551615 is too large")
        assertError({ _ = try f.string("test.strings") }, is: "\(p): metadata test.strings has type array of string, expected a string")
        assertError({ _ = try f.stringArray("test.ints") }, is: "\(p): metadata test.ints element 0 has type int32, expected an array of strings")
        assertError({ _ = try f.floatArray("test.uint8") }, is: "\(p): metadata test.uint8 has type uint8, expected an array of floats")
        assertError({ _ = try f.bool("test.uint8") }, is: "\(p): metadata test.uint8 has type uint8, expected a bool")
    }

    /// The f16 conversion against Swift's own Float16 on all 65,536 bit patterns (NaNs by NaN-ness and payload).
    func testHalfToFloatOnEveryBitPattern() throws {
        #if arch(x86_64) && os(macOS)
        throw XCTSkip("Float16 is unavailable on Intel macOS")
        #else
        for h in 0...UInt16.max {
            let got = GGMLDequantize.halfToFloat(h), want = Float(Float16(bitPattern: h))
            if want.isNaN {
                XCTAssertTrue(got.isNaN, "\(h)")
                XCTAssertEqual(got.bitPattern & 0x803f_ffff, want.bitPattern & 0x803f_ffff, "NaN payload of \(h)")
            } else {
                XCTAssertEqual(got.bitPattern, want.bitPattern, "half \(String(h, radix: 16))")
            }
        }
        #endif
    }

    func testUnsupportedTypeIsNamed() throws {
        var b = GGUFBuilder()
        b.tensor("blk.0.ffn_up.weight", dims: [256, 1], type: GGMLType.IQ2_XXS.rawValue, offset: 0)
        b.data = [UInt8](repeating: 0, count: 66)
        let path = NSTemporaryDirectory() + "gguf-\(UUID().uuidString).gguf"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(b.bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try GGUFFile(path: path)
        let t = try XCTUnwrap(f.tensors.first)
        assertError({ _ = try f.floats(of: t) }, is: "\(path): ggml type IQ2_XXS is not supported (tensor blk.0.ffn_up.weight)")
        var out = [Float](repeating: 0, count: 32)
        assertError(
            { try GGMLDequantize.rows(.Q4_0, [UInt8](repeating: 0, count: 18), elements: 16, into: &out) },
            is: "16 elements is not a whole number of Q4_0 blocks of 32")
    }

    func assertError(_ body: () throws -> Void, is message: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected the error '\(message)'", file: file, line: line)
        } catch let e as PrismError {
            XCTAssertEqual(e.message, message, file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }
}

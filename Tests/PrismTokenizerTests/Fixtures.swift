import Foundation
import XCTest

/// Reads the fixtures written by tools/make_tokenizer_fixtures.py (Hugging Face `tokenizers`
/// is the reference for every expected value in them).
enum Fixtures {
    static let directory: URL = {
        // Tests/PrismTokenizerTests/Fixtures.swift -> Tests/Fixtures/tokenizer
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent("tokenizer")
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NSError(domain: "fixtures", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name) is not an object"])
        }
        return object
    }

    /// One encode case: the text and what HF gives for it.
    struct EncodeCase {
        let name: String
        let text: String
        let idsWithBos: [Int]
        let ids: [Int]
        let decodedSkipping: [UInt8]
        let decodedKeeping: [UInt8]
    }

    struct DecodeCase {
        let name: String
        let ids: [Int]
        let decodedSkipping: [UInt8]
        let decodedKeeping: [UInt8]
    }

    static func encodeCases(_ list: String) throws -> [EncodeCase] {
        let cases = try XCTUnwrap(try json("cases.json")[list] as? [[String: Any]], "cases.json has no \(list)")
        return try cases.map { c in
            EncodeCase(
                name: try XCTUnwrap(c["name"] as? String),
                text: String(decoding: try hex(c["text_hex"]), as: UTF8.self),
                idsWithBos: try XCTUnwrap(c["ids_bos"] as? [Int]),
                ids: try XCTUnwrap(c["ids"] as? [Int]),
                decodedSkipping: try hex(c["decode_skip_hex"]),
                decodedKeeping: try hex(c["decode_keep_hex"]))
        }
    }

    static func decodeCases() throws -> [DecodeCase] {
        let cases = try XCTUnwrap(try json("cases.json")["decode_only"] as? [[String: Any]])
        return try cases.map { c in
            DecodeCase(
                name: try XCTUnwrap(c["name"] as? String), ids: try XCTUnwrap(c["ids"] as? [Int]),
                decodedSkipping: try hex(c["decode_skip_hex"]), decodedKeeping: try hex(c["decode_keep_hex"]))
        }
    }

    /// Strings with exact scalars are stored as UTF-8 hex, so no JSON reader can alter them.
    static func hex(_ value: Any?) throws -> [UInt8] {
        let s = Array(try XCTUnwrap(value as? String, "expected a hex string").utf8)
        guard s.count % 2 == 0 else { throw NSError(domain: "fixtures", code: 2) }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            default: throw NSError(domain: "fixtures", code: 3)
            }
        }
        return try stride(from: 0, to: s.count, by: 2).map { try nibble(s[$0]) << 4 | nibble(s[$0 + 1]) }
    }
}

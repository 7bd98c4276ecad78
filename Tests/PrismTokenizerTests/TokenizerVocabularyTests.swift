import Foundation
import PrismSupport
import PrismTokenizer
import XCTest

/// The vocabulary API, the traps of Swift strings, and errors.
final class TokenizerVocabularyTests: XCTestCase {
    func testVocabularyFacts() throws {
        let cases = try Fixtures.json("cases.json")
        let tok = try GemmaTokenizer(path: Fixtures.path("tokenizer.json"))
        XCTAssertEqual(tok.vocabularySize, cases["vocab_size"] as? Int)
        XCTAssertEqual(tok.bosId, 2)
        XCTAssertEqual(tok.eosId, 1)
        XCTAssertEqual(tok.bosId, cases["bos_id"] as? Int)
        XCTAssertEqual(tok.eosId, cases["eos_id"] as? Int)
        for id in try XCTUnwrap(cases["special_ids"] as? [Int]) { XCTAssertTrue(tok.isSpecial(id), "\(id)") }
        XCTAssertFalse(tok.isSpecial(try XCTUnwrap(tok.id(forPiece: "<custom>"))), "<custom> is added but not special")
        XCTAssertFalse(tok.isSpecial(try XCTUnwrap(tok.id(forPiece: "\u{2581}the"))))
        XCTAssertEqual(tok.piece(for: 2), "<bos>")
        XCTAssertEqual(tok.id(forPiece: "<0x0A>"), tok.id(forPiece: "<0x0A>"))
        XCTAssertNil(tok.piece(for: -1))
        XCTAssertNil(tok.piece(for: tok.vocabularySize))
        XCTAssertNil(tok.id(forPiece: "no such piece"))
        for entry in try XCTUnwrap(cases["pieces"] as? [[String: Any]]) {
            let piece = String(decoding: try Fixtures.hex(entry["piece_hex"]), as: UTF8.self)
            let id = try XCTUnwrap(entry["id"] as? Int)
            XCTAssertEqual(tok.id(forPiece: piece), id, piece.debugDescription)
            XCTAssertEqual(tok.piece(for: id).map { Array($0.unicodeScalars) }, Array(piece.unicodeScalars))
        }
    }

    /// Swift's `String ==` would call these equal; the vocabulary must not.
    func testCanonicallyEquivalentPiecesStayDistinct() throws {
        let tok = try GemmaTokenizer(path: Fixtures.path("tokenizer-pairs.json"))
        let composed = try XCTUnwrap(tok.id(forPiece: "\u{E9}"))
        let decomposed = try XCTUnwrap(tok.id(forPiece: "e\u{301}"))
        XCTAssertNotEqual(composed, decomposed)
        XCTAssertEqual(tok.piece(for: decomposed).map { Array($0.unicodeScalars) }, ["e", "\u{301}"])
        XCTAssertNotNil(tok.id(forPiece: "\u{FEFF}\u{2581}the"), "a key beginning with a BOM")
        XCTAssertNotNil(tok.id(forPiece: "\u{A0}\u{A0}"))
        XCTAssertNotNil(tok.id(forPiece: "\r\n"), "CRLF is one Character but two scalars")
    }

    func testDecodeRejectsIdsOutsideTheVocabulary() throws {
        let tok = try GemmaTokenizer(path: Fixtures.path("tokenizer.json"))
        for bad in [-1, tok.vocabularySize, Int.max] {
            XCTAssertThrowsError(try tok.decode([5, bad])) { error in
                XCTAssertTrue(error is PrismError, "\(error)")
            }
        }
    }

    func testMinimalFileLoads() throws {
        let tok = try GemmaTokenizer(path: Fixtures.path("minimal_valid.json"))
        XCTAssertEqual(tok.encode("ab ab"), [2, 6, 7, 6])
        XCTAssertEqual(try tok.decode([2, 6, 7, 6]), "ab ab")
    }

    /// Every malformed variant is refused with one clear line, never a crash.
    func testMalformedFilesAreRejected() throws {
        let dir = Fixtures.directory.appendingPathComponent("malformed")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 20)
        for name in names {
            let path = dir.appendingPathComponent(name).path
            XCTAssertThrowsError(try GemmaTokenizer(path: path), name) { error in
                guard let e = error as? PrismError else { return XCTFail("\(name): \(error) is not a PrismError") }
                XCTAssertFalse(e.message.isEmpty, name)
                XCTAssertFalse(e.message.contains("\n"), "\(name): \(e.message)")
            }
        }
    }

    /// A few errors must say what is wrong, not just that something is.
    func testErrorMessagesNameTheProblem() throws {
        let expectations = [
            "missing_model": "no model",
            "model_wordpiece": "WordPiece",
            "bad_merge_entry": "merge 1",
            "merge_unknown_token": "'zz'",
            "merge_result_missing": "'ba'",
            "dropout_set": "dropout",
            "pre_tokenizer_set": "pre_tokenizer",
            "lone_surrogate": "surrogate",
            "truncated": "byte",
            "added_token_lstrip": "lstrip",
        ]
        for (name, fragment) in expectations {
            let path = Fixtures.directory.appendingPathComponent("malformed/\(name).json").path
            XCTAssertThrowsError(try GemmaTokenizer(path: path), name) { error in
                let message = (error as? PrismError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(fragment), "\(name): '\(message)' should mention \(fragment)")
            }
        }
    }

    func testMissingFileIsAnError() {
        XCTAssertThrowsError(try GemmaTokenizer(path: "/nonexistent/tokenizer.json")) { error in
            XCTAssertTrue(error is PrismError)
        }
    }

    /// The loader's own JSON reader: escapes, surrogate pairs, both merge forms, any key order.
    func testJSONEscapesAndKeyOrder() throws {
        let json = #"""
            {"model": {"merges": [["\ud83d\ude00", "\u00e9"], ["e", "\u0301"], ["\"", "q"], ["\"q", "\\"], ["a", "\"q\\"]],
                       "vocab": {"\ud83d\ude00": 0, "\u00e9": 1, "e\u0301": 2, "\ud83d\ude00\u00e9": 3, "a": 4,
                                 "\"q\\": 5, "a\"q\\": 6, "\t\/": 7, "e": 8, "\u0301": 9, "\"": 10, "q": 11,
                                 "\\": 12, "\"q": 13},
                       "type": "BPE", "byte_fallback": false},
             "version": "1.0", "added_tokens": [], "decoder": {"type": "Fuse"}}
            """#
        let tok = try GemmaTokenizer(jsonBytes: Array(json.utf8))
        XCTAssertEqual(tok.id(forPiece: "😀é"), 3)
        XCTAssertEqual(tok.id(forPiece: "e\u{301}"), 2)
        XCTAssertEqual(tok.id(forPiece: "\t/"), 7)
        XCTAssertEqual(tok.encode("😀é😀e\u{301}a\"q\\", addBos: false), [3, 0, 2, 6])
        XCTAssertNil(tok.bosId)
        XCTAssertEqual(try tok.decode([3, 6]), "😀éa\"q\\")
    }
}

import Foundation
import PrismSupport
import PrismTokenizer
import XCTest

/// `TokenizerVocabulary`, the id -> piece table read without the merges: the same piece as the
/// full tokenizer for every id, and malformed files refused, never a crash.
final class TokenizerPieceTableTests: XCTestCase {
    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Every id of every valid fixture (and the ids just outside) gets the tokenizer's piece.
    func testPiecesEqualTheTokenizersForEveryId() throws {
        let names = [
            "tokenizer.json", "tokenizer-pairs.json", "minimal_valid.json", "tokenizer-unk.json",
            "tokenizer-unk-nofuse.json", "malformed-hf-loads.json",
        ]
        for name in names {
            let bytes = try Self.bytes(Fixtures.path(name))
            let tokenizer: GemmaTokenizer
            do { tokenizer = try GemmaTokenizer(jsonBytes: bytes) } catch { continue }  // only files the tokenizer accepts
            let table = try TokenizerVocabulary(jsonBytes: bytes)
            var compared = 0
            for id in -2...(tokenizer.vocabularySize + 2) {
                XCTAssertEqual(table.piece(for: id).map { Array($0.utf8) }, tokenizer.piece(for: id).map { Array($0.utf8) }, "\(name): id \(id)")
                compared += 1
            }
            XCTAssertGreaterThan(compared, 10, name)
        }
    }

    /// The added tokens win over the vocabulary, as in the tokenizer (`<bos>` is one of them).
    func testAddedTokensAreLabelled() throws {
        let bytes = try Self.bytes(Fixtures.path("tokenizer.json"))
        let table = try TokenizerVocabulary(jsonBytes: bytes)
        let tokenizer = try GemmaTokenizer(jsonBytes: bytes)
        XCTAssertEqual(table.piece(for: 2), "<bos>")
        let custom = try XCTUnwrap(tokenizer.id(forPiece: "<custom>"))
        XCTAssertEqual(table.piece(for: custom), "<custom>")
        XCTAssertNil(table.piece(for: -1))
        XCTAssertNil(table.piece(for: Int.max))
    }

    /// Reading the table does not parse the tokenizer.
    func testReadingTheTableDoesNotParseTheTokenizer() throws {
        let bytes = try Self.bytes(Fixtures.path("tokenizer.json"))
        let parsed = GemmaTokenizer.filesParsed, read = TokenizerVocabulary.filesRead
        _ = try TokenizerVocabulary(jsonBytes: bytes)
        XCTAssertEqual(GemmaTokenizer.filesParsed, parsed)
        XCTAssertEqual(TokenizerVocabulary.filesRead, read + 1)
    }

    /// Malformed JSON, a vocabulary that is no object of ids, or one id given twice: one clear
    /// line. The other malformed fixtures (bad merges, unsupported options) are the tokenizer's to
    /// refuse; the table either refuses them too or reads them, but never crashes.
    func testMalformedFilesAreRefusedOrRead() throws {
        let mustFail = ["not_json", "truncated", "trailing_garbage", "empty_file", "missing_model", "vocab_id_negative", "lone_surrogate"]
        let dir = Fixtures.directory.appendingPathComponent("malformed")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 20)
        for name in names {
            let bytes = try Self.bytes(dir.appendingPathComponent(name).path)
            do {
                _ = try TokenizerVocabulary(jsonBytes: bytes)
                XCTAssertFalse(mustFail.contains(String(name.dropLast(5))), "\(name) was read")
            } catch let e as PrismError {
                XCTAssertTrue(e.message.hasPrefix("tokenizer.json"), "\(name): \(e.message)")
                XCTAssertFalse(e.message.contains("\n"), "\(name): \(e.message)")
            }
        }
        let twice = #"{"model": {"type": "BPE", "vocab": {"a": 3, "b": 3}, "merges": []}}"#
        XCTAssertThrowsError(try TokenizerVocabulary(jsonBytes: Array(twice.utf8))) {
            XCTAssertEqual(($0 as? PrismError)?.message, "tokenizer.json: model.vocab gives id 3 to two tokens")
        }
        let noVocab = #"{"model": {"type": "BPE", "merges": [["a", "b"]]}}"#
        XCTAssertThrowsError(try TokenizerVocabulary(jsonBytes: Array(noVocab.utf8))) {
            XCTAssertEqual(($0 as? PrismError)?.message, "tokenizer.json: model has no vocab")
        }
        let badMerges = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "b"}}"#
        XCTAssertThrowsError(try TokenizerVocabulary(jsonBytes: Array(badMerges.utf8)), "skipped members are still checked as JSON")
    }
}

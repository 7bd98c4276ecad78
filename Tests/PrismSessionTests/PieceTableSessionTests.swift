import Foundation
import PrismModel
import PrismSession
import PrismTokenizer
import XCTest

/// A session given token ids labels them from the id -> piece table, never parsing the
/// tokenizer; the table equals the tokenizer on the shipped model's whole vocabulary.
final class PieceTableSessionTests: XCTestCase {
    func testIdsOnlyLabelsReadTheTableNotTheTokenizer() throws {
        let session = try PrismSession(path: PrismSessionTests.shipped)
        let parsed = GemmaTokenizer.filesParsed, read = TokenizerVocabulary.filesRead
        let ids = try session.tokens(text: nil, ids: [2, 651, 37])
        let targets = try session.targets(ids: [5, 651], tokens: [], diffs: [], style: .quoted)
        let pieces = try XCTUnwrap(try session.pieces(ids))
        _ = try session.label(37, style: .piece)
        XCTAssertEqual(GemmaTokenizer.filesParsed, parsed, "ids given: the tokenizer is not parsed")
        XCTAssertEqual(TokenizerVocabulary.filesRead, read + 1, "the table is read once per session")

        // The same labels and pieces as the full tokenizer gives.
        let tokenizer = try session.tokenizer()
        XCTAssertEqual(pieces, ids.map { tokenizer.piece(for: $0) ?? "?" })
        XCTAssertEqual(targets.map(\.label), try session.targets(ids: [5, 651], tokens: [], diffs: [], style: .quoted).map(\.label))
        XCTAssertEqual(try session.label(37, style: .piece), tokenizer.piece(for: 37))
        XCTAssertEqual(TokenizerVocabulary.filesRead, read + 1, "once parsed, the tokenizer answers")
    }

    /// Once text is encoded, the tokenizer answers and the table is never read.
    func testTextPromptsUseTheParsedTokenizer() throws {
        let session = try PrismSession(path: PrismSessionTests.shipped)
        let read = TokenizerVocabulary.filesRead
        let ids = try session.tokens(text: "The capital of France is", ids: nil)
        _ = try session.pieces(ids)
        _ = try session.label(5, style: .quoted)
        XCTAssertEqual(TokenizerVocabulary.filesRead, read)
    }

    func testTableEqualsTheTokenizerOnTheShippedModel() throws {
        let bytes = try XCTUnwrap(try LoadedModel.open(PrismSessionTests.shipped).tokenizerJSON)
        let tokenizer = try GemmaTokenizer(jsonBytes: bytes)
        let table = try TokenizerVocabulary(jsonBytes: bytes)
        XCTAssertGreaterThan(tokenizer.vocabularySize, 100)
        for id in -1...(tokenizer.vocabularySize + 1) {
            XCTAssertEqual(table.piece(for: id).map { Array($0.utf8) }, tokenizer.piece(for: id).map { Array($0.utf8) }, "id \(id)")
        }
    }
}

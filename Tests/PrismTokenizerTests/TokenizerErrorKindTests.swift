import Foundation
import PrismSupport
import PrismTokenizer
import XCTest

/// A fault inside a tokenizer.json is told apart by its kind, not its text: read from a path,
/// the path takes the place of "tokenizer.json" in the message; a fault in reading the file
/// itself is wrapped with the path.
final class TokenizerErrorKindTests: XCTestCase {
    let twice = #"{"model": {"type": "BPE", "vocab": {"a": 3, "b": 3}, "merges": []}}"#

    func testAFaultInTheContentHasTheTokenizerJSONKind() {
        XCTAssertThrowsError(try GemmaTokenizer(jsonBytes: Array(twice.utf8))) {
            let e = $0 as? PrismError
            XCTAssertEqual(e?.message, "tokenizer.json: model.vocab gives id 3 to two tokens")
            XCTAssertEqual(e?.kind, .tokenizerJSON(detail: "model.vocab gives id 3 to two tokens"))
        }
        XCTAssertEqual(PrismError.tokenizerJSON("x").message, "tokenizer.json: x")
        XCTAssertEqual(PrismError("tokenizer.json: x").kind, .general, "the text alone does not make the kind")
    }

    func testAFileNamesItsPathInPlaceOfTokenizerJSON() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kind-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(twice.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GemmaTokenizer(path: path)) {
            XCTAssertEqual(($0 as? PrismError)?.message, "\(path): model.vocab gives id 3 to two tokens")
            XCTAssertEqual(($0 as? PrismError)?.kind, .general)
        }
        // A fault that is not about the content (here: an empty file) keeps its own words, after the path.
        try Data().write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GemmaTokenizer(path: path)) {
            let message = ($0 as? PrismError)?.message ?? ""
            XCTAssertTrue(message.hasPrefix("\(path): "), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }
}

import Foundation
import PrismTokenizer
import XCTest

/// Encode and decode must equal Hugging Face `tokenizers` on every fixture case, for both
/// forms of `merges` ("a b" strings and ["a", "b"] pairs).
final class TokenizerParityTests: XCTestCase {
    static let mergeForms = ["tokenizer.json", "tokenizer-pairs.json"]

    func testEncodeAndDecodeMatchHuggingFace() throws {
        let cases = try Fixtures.encodeCases("main")
        XCTAssertGreaterThan(cases.count, 30)
        for file in Self.mergeForms {
            let tok = try GemmaTokenizer(path: Fixtures.path(file))
            try check(tok, cases, file)
        }
    }

    /// A vocabulary missing the byte tokens <0xE0>..<0xEF>: 3-byte scalars that are not in the
    /// vocabulary become <unk>, fused or not, including HF's ordering quirk (a pending <unk> is
    /// emitted after byte tokens that follow it).
    func testUnknownTokenFusedAndUnfused() throws {
        try check(try GemmaTokenizer(path: Fixtures.path("tokenizer-unk.json")), try Fixtures.encodeCases("unk_fused"), "unk")
        try check(
            try GemmaTokenizer(path: Fixtures.path("tokenizer-unk-nofuse.json")),
            try Fixtures.encodeCases("unk_unfused"), "unk-nofuse")
    }

    func testDecodeOnlyCases() throws {
        let cases = try Fixtures.decodeCases()
        XCTAssertGreaterThan(cases.count, 5)
        for file in Self.mergeForms {
            let tok = try GemmaTokenizer(path: Fixtures.path(file))
            for c in cases {
                XCTAssertEqual(Array(try tok.decode(c.ids, skipSpecialTokens: true).utf8), c.decodedSkipping, "\(file) \(c.name) skip")
                XCTAssertEqual(Array(try tok.decode(c.ids, skipSpecialTokens: false).utf8), c.decodedKeeping, "\(file) \(c.name) keep")
            }
        }
    }

    func testLongText() throws {
        let long = try Fixtures.json("long_case.json")
        let text = try XCTUnwrap(long["text"] as? String)
        XCTAssertEqual(text.utf8.count, long["utf8_length"] as? Int, "the JSON reader changed the text")
        XCTAssertEqual(text.unicodeScalars.count, long["scalar_count"] as? Int)
        let ids = try XCTUnwrap(long["ids"] as? [Int])
        let skip = try XCTUnwrap(long["decode_skip"] as? String)
        let keep = try XCTUnwrap(long["decode_keep"] as? String)
        XCTAssertEqual(skip.utf8.count, long["decode_skip_utf8_length"] as? Int)
        XCTAssertEqual(keep.utf8.count, long["decode_keep_utf8_length"] as? Int)
        for file in Self.mergeForms {
            let tok = try GemmaTokenizer(path: Fixtures.path(file))
            let got = tok.encode(text, addBos: false)
            XCTAssertEqual(got.count, ids.count, file)
            if let i = (0..<min(got.count, ids.count)).first(where: { got[$0] != ids[$0] }) {
                XCTFail("\(file): first difference at token \(i): \(got[i]) vs HF \(ids[i])")
            }
            XCTAssertEqual(tok.encode(text), [2] + ids, file)
            XCTAssertEqual(Array(try tok.decode(ids, skipSpecialTokens: true).utf8), Array(skip.utf8), file)
            XCTAssertEqual(Array(try tok.decode(ids, skipSpecialTokens: false).utf8), Array(keep.utf8), file)
        }
    }

    private func check(
        _ tok: GemmaTokenizer, _ cases: [Fixtures.EncodeCase], _ file: String,
        line: UInt = #line
    ) throws {
        for c in cases {
            XCTAssertEqual(tok.encode(c.text, addBos: false), c.ids, "\(file) \(c.name) without bos", line: line)
            XCTAssertEqual(tok.encode(c.text), c.idsWithBos, "\(file) \(c.name) with bos", line: line)
            XCTAssertEqual(
                Array(try tok.decode(c.idsWithBos, skipSpecialTokens: true).utf8), c.decodedSkipping,
                "\(file) \(c.name) decode skipping specials", line: line)
            XCTAssertEqual(
                Array(try tok.decode(c.idsWithBos, skipSpecialTokens: false).utf8), c.decodedKeeping,
                "\(file) \(c.name) decode keeping specials", line: line)
        }
    }
}

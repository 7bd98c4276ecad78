import Foundation
import PrismSupport
import PrismTokenizer
import XCTest

/// The tokenizer built from a GGUF's SentencePiece arrays must equal transformers' GGUF tokenizer
/// (Tests/Fixtures/sentencepiece, written by tools/make_sentencepiece_fixtures.py from a
/// SentencePiece BPE model trained there, its arrays exported as llama.cpp writes them).
final class SentencePieceVocabularyTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("sentencepiece")

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], name)
    }

    /// The fixture's arrays, as the GGUF reader would hand them over. The pieces are read from
    /// their UTF-8 hex: Foundation's JSON reader drops U+FEFF from strings (Gemma 3 has that piece).
    static func vocabulary() throws -> SentencePieceVocabulary {
        let v = try json("vocabulary.json")
        return try SentencePieceVocabulary(
            pieces: try XCTUnwrap(v["tokens_hex"] as? [Any]).map { String(decoding: try Fixtures.hex($0), as: UTF8.self) },
            scores: try XCTUnwrap(v["scores"] as? [Double]).map { Float($0) },
            types: try XCTUnwrap(v["token_type"] as? [Int]).map { Int32($0) },
            bosId: v["bos_token_id"] as? Int, eosId: v["eos_token_id"] as? Int,
            unkId: v["unknown_token_id"] as? Int, padId: v["padding_token_id"] as? Int,
            addBOS: try XCTUnwrap(v["add_bos_token"] as? Bool))
    }

    struct Case {
        let name: String
        let text: String
        let hfIdsBos: [Int], hfIds: [Int], spIds: [Int]
        let decodeSkip: [UInt8], decodeKeep: [UInt8]
    }

    static func cases() throws -> [Case] {
        let list = try XCTUnwrap(try json("cases.json")["cases"] as? [[String: Any]])
        return try list.map { c in
            Case(
                name: try XCTUnwrap(c["name"] as? String),
                text: String(decoding: try Fixtures.hex(c["text_hex"]), as: UTF8.self),
                hfIdsBos: try XCTUnwrap(c["hf_ids_bos"] as? [Int]), hfIds: try XCTUnwrap(c["hf_ids"] as? [Int]),
                spIds: try XCTUnwrap(c["sp_ids"] as? [Int]),
                decodeSkip: try Fixtures.hex(c["hf_decode_skip_hex"]), decodeKeep: try Fixtures.hex(c["hf_decode_keep_hex"]))
        }
    }

    func testIdsAndDecodingsEqualHuggingFace() throws {
        let tok = try GemmaTokenizer(sentencePiece: try Self.vocabulary())
        let cases = try Self.cases()
        XCTAssertGreaterThan(cases.count, 40)
        for c in cases {
            XCTAssertEqual(tok.encode(c.text, addBos: true), c.hfIdsBos, c.name)
            XCTAssertEqual(tok.encode(c.text, addBos: false), c.hfIds, c.name)
            XCTAssertEqual(Array(try tok.decode(c.hfIdsBos, skipSpecialTokens: true).utf8), c.decodeSkip, c.name)
            XCTAssertEqual(Array(try tok.decode(c.hfIdsBos, skipSpecialTokens: false).utf8), c.decodeKeep, c.name)
        }
    }

    /// Where Hugging Face and SentencePiece differ, and why (the same causes hold for Gemma):
    /// - control pieces (<bos>, <eos>, <pad>, <mask>, [@BOS@], and <unk>, which llama.cpp types as
    ///   control for Gemma) written as text: HF matches them as special added tokens, SentencePiece
    ///   never produces a control or unknown piece from text and spells them out;
    /// - a space run longer than the longest user-defined run (8 here, 31 in Gemma):
    ///   SentencePiece cuts user-defined runs greedily, longest first, before BPE; in HF they are
    ///   ordinary pieces built by merges (transformers cannot add them: see `tokenizerJSON`), and
    ///   BPE's pairwise merging cuts a 9-space run as 4 + 5, not 8 + 1.
    /// Everywhere else the two agree, and so this tokenizer equals SentencePiece too.
    func testSentencePieceAgreesExceptTheListedCauses() throws {
        let tok = try GemmaTokenizer(sentencePiece: try Self.vocabulary())
        let expectedDifferences: Set = ["special_bos", "special_eos_pad", "unused_tokens", "unk_text", "spaces_9"]
        var differing: Set<String> = []
        for c in try Self.cases() where tok.encode(c.text, addBos: false) != c.spIds { differing.insert(c.name) }
        XCTAssertEqual(differing, expectedDifferences)
    }

    func testMergesAddedTokensAndVocabularyEqualHuggingFace() throws {
        let vocabulary = try Self.vocabulary()
        let rendered = try vocabulary.tokenizerJSON()
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(rendered)) as? [String: Any])
        let model = try XCTUnwrap(doc["model"] as? [String: Any])
        let hf = try Self.json("hf_reference.json")

        let merges = try XCTUnwrap(model["merges"] as? [[String]])
        let hfMerges = try XCTUnwrap(hf["merges"] as? [[String]])
        XCTAssertEqual(merges.count, hfMerges.count)
        let bytes: ([String]) -> [[UInt8]] = { pair in pair.map { Array($0.utf8) } }
        for k in 0..<min(merges.count, hfMerges.count) where bytes(merges[k]) != bytes(hfMerges[k]) {
            XCTFail("merge \(k): \(merges[k]) but HF has \(hfMerges[k])")
            break
        }
        XCTAssertEqual(model["unk_token"] as? String, hf["unk_token"] as? String)

        struct Added: Equatable {
            let id: Int, content: [UInt8], special: Bool, normalized: Bool
            init(_ d: [String: Any]) throws {
                id = try XCTUnwrap(d["id"] as? Int)
                content = Array(try XCTUnwrap(d["content"] as? String).utf8)
                special = try XCTUnwrap(d["special"] as? Bool)
                normalized = try XCTUnwrap(d["normalized"] as? Bool)
            }
        }
        let added = try XCTUnwrap(doc["added_tokens"] as? [[String: Any]]).map(Added.init)
        let hfAdded = try XCTUnwrap(hf["added_tokens"] as? [[String: Any]]).map(Added.init)
        XCTAssertEqual(added, hfAdded)

        // The vocabulary: the stored pieces except the ones HF respells, which must be exactly the
        // whitespace runs llama.cpp rewrote.
        let respelled = try XCTUnwrap(hf["respelled"] as? [String: String])
        XCTAssertFalse(respelled.isEmpty)
        let tok = try GemmaTokenizer(jsonBytes: rendered)
        XCTAssertEqual(tok.vocabularySize, vocabulary.pieces.count)
        let table = try TokenizerVocabulary(jsonBytes: rendered)
        for (id, stored) in vocabulary.pieces.enumerated() {
            let expected = respelled[String(id)] ?? stored
            XCTAssertEqual(tok.piece(for: id).map { Array($0.utf8) }, Array(expected.utf8), "id \(id)")
            XCTAssertEqual(table.piece(for: id).map { Array($0.utf8) }, Array(expected.utf8), "id \(id)")
            XCTAssertEqual(tok.id(forPiece: expected), id)
        }
        XCTAssertEqual(tok.bosId, 2)
        XCTAssertEqual(tok.eosId, 1)
    }

    func testDecodeRoundTripsEveryCorpusLine() throws {
        let tok = try GemmaTokenizer(sentencePiece: try Self.vocabulary())
        // A literal "▁" in the text is lost, as in HF: the normalizer and the decoder both treat
        // it as a space.
        for c in try Self.cases() where !c.text.unicodeScalars.contains("\u{2581}") {
            let ids = tok.encode(c.text, addBos: false)
            XCTAssertEqual(Array(try tok.decode(ids, skipSpecialTokens: false).utf8), Array(c.text.utf8), c.name)
        }
    }

    /// The same checks on a real GGUF's vocabulary, when tools/check_gguf_tokenizer.py has
    /// written its references (`--out DIR`) and PRISM_SENTENCEPIECE_REFERENCE names DIR; skipped
    /// otherwise (the files are tens of MB, not committed). Gemma 3 (262k pieces): HF's ids on every
    /// line, and SentencePiece's where the script found the two agree.
    func testRealVocabularyWhenProvided() throws {
        guard let dir = ProcessInfo.processInfo.environment["PRISM_SENTENCEPIECE_REFERENCE"] else {
            throw XCTSkip("PRISM_SENTENCEPIECE_REFERENCE is not set")
        }
        func load(_ name: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent(name))
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], name)
        }
        let v = try load("vocabulary.json")
        let vocabulary = try SentencePieceVocabulary(
            pieces: try XCTUnwrap(v["tokens_hex"] as? [Any]).map { String(decoding: try Fixtures.hex($0), as: UTF8.self) },
            scores: try XCTUnwrap(v["scores"] as? [Double]).map { Float($0) },
            types: try XCTUnwrap(v["token_type"] as? [Int]).map { Int32($0) },
            bosId: v["bos_token_id"] as? Int, eosId: v["eos_token_id"] as? Int,
            unkId: v["unknown_token_id"] as? Int, padId: v["padding_token_id"] as? Int,
            addBOS: try XCTUnwrap(v["add_bos_token"] as? Bool))
        let start = Date()
        let tok = try GemmaTokenizer(sentencePiece: vocabulary)
        print("built the tokenizer from \(vocabulary.pieces.count) pieces in \(Date().timeIntervalSince(start)) s (this build's configuration)")
        let cases = try XCTUnwrap(try load("cases.json")["cases"] as? [[String: Any]])
        var agreeWithSentencePiece = 0
        for c in cases {
            let name = try XCTUnwrap(c["name"] as? String)
            let text = String(decoding: try Fixtures.hex(c["text_hex"]), as: UTF8.self)
            let hfIds = try XCTUnwrap(c["hf_ids"] as? [Int])
            let hfIdsBos = try XCTUnwrap(c["hf_ids_bos"] as? [Int])
            XCTAssertEqual(tok.encode(text, addBos: true), hfIdsBos, name)
            XCTAssertEqual(tok.encode(text, addBos: false), hfIds, name)
            XCTAssertEqual(Array(try tok.decode(hfIdsBos, skipSpecialTokens: false).utf8), try Fixtures.hex(c["hf_decode_keep_hex"]), name)
            XCTAssertEqual(Array(try tok.decode(hfIdsBos, skipSpecialTokens: true).utf8), try Fixtures.hex(c["hf_decode_skip_hex"]), name)
            if hfIds == (c["sp_ids"] as? [Int]) { agreeWithSentencePiece += 1 }
        }
        print("\(cases.count) lines, \(agreeWithSentencePiece) where SentencePiece agrees")
    }

    // MARK: Small vocabularies

    /// A minimal valid vocabulary: specials, the byte tokens, a few letters and their merges.
    static func small(
        extra: [(String, Int32)] = [], addBOS: Bool = true, addEOS: Bool = false, bos: Int? = 2
    ) throws -> SentencePieceVocabulary {
        var entries: [(String, Int32)] = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 2)]
        entries += (0..<256).map { (String(format: "<0x%02X>", $0), 6) }
        entries += ["a", "b", "\u{2581}", "ab", "\u{2581}a", "\u{2581}ab"].map { ($0, 1) }
        entries += extra
        return try SentencePieceVocabulary(
            pieces: entries.map(\.0), scores: entries.indices.map { -Float($0) }, types: entries.map(\.1),
            bosId: bos, eosId: 1, unkId: 3, padId: 0, addBOS: addBOS, addEOS: addEOS)
    }

    func testSmallVocabularyMergesByVocabularyOrder() throws {
        let tok = try GemmaTokenizer(sentencePiece: try Self.small())
        let ab = try XCTUnwrap(tok.id(forPiece: "ab")), spaceAB = try XCTUnwrap(tok.id(forPiece: "\u{2581}ab"))
        XCTAssertEqual(tok.encode("ab ab", addBos: false), [ab, spaceAB])
        XCTAssertEqual(tok.encode("", addBos: true), [2])
        // "c" is not in the vocabulary: byte fallback.
        XCTAssertEqual(tok.encode("c", addBos: false), [0x63 + 4])
    }

    func testBosAndEosFlags() throws {
        let noBos = try GemmaTokenizer(sentencePiece: try Self.small(addBOS: false))
        let a = try XCTUnwrap(noBos.id(forPiece: "a"))
        XCTAssertEqual(noBos.encode("a", addBos: true), [a])
        let withEos = try GemmaTokenizer(sentencePiece: try Self.small(addEOS: true))
        XCTAssertEqual(withEos.encode("a", addBos: true), [2, a, 1])
    }

    /// llama.cpp's rewrite undone by transformers' rule: a piece of whitespace holding a space
    /// becomes one "▁" per scalar; other pieces keep their spelling.
    func testSpaceRewriteIsUndone() throws {
        let v = try Self.small(extra: [("  ", 4), ("\n", 4), (" \t \t", 4), ("a b", 4), ("<tag>", 4)])
        let tok = try GemmaTokenizer(sentencePiece: v)
        let base = 4 + 256 + 6
        XCTAssertEqual(tok.piece(for: base), "\u{2581}\u{2581}")
        XCTAssertEqual(tok.piece(for: base + 1), "\n")
        XCTAssertEqual(tok.piece(for: base + 2), "\u{2581}\u{2581}\u{2581}\u{2581}")
        XCTAssertEqual(tok.piece(for: base + 3), "a b")
        // Runs are plain pieces (built by merges); "\n" and "<tag>" are added tokens, matched whole.
        XCTAssertEqual(tok.encode("x<tag>\n", addBos: false), [0x78 + 4, base + 4, base + 1])
        XCTAssertFalse(tok.isSpecial(base + 4))
        XCTAssertEqual(tok.encode("  ", addBos: false), [base])
        XCTAssertEqual(try tok.decode([base + 2]), "    ")
    }

    func testControlPiecesAreSpecial() throws {
        let tok = try GemmaTokenizer(sentencePiece: try Self.small(extra: [("<start_of_turn>", 3)]))
        let turn = 4 + 256 + 6
        XCTAssertTrue(tok.isSpecial(turn))
        XCTAssertTrue(tok.isSpecial(0) && tok.isSpecial(1) && tok.isSpecial(2) && tok.isSpecial(3))
        XCTAssertEqual(tok.encode("<start_of_turn>a", addBos: false), [turn, try XCTUnwrap(tok.id(forPiece: "a"))])
        XCTAssertEqual(try tok.decode([2, turn, 4 + 256], skipSpecialTokens: true), "a")
    }

    // MARK: Bad vocabularies

    func testBadVocabulariesGiveOneLineErrors() {
        let ok: [String] = ["<pad>", "<eos>", "<bos>", "a"]
        let scores: [Float] = [0, 0, 0, -1]
        let types: [Int32] = [3, 3, 3, 1]
        func expect(_ fragment: String, _ make: () throws -> SentencePieceVocabulary, line: UInt = #line) {
            XCTAssertThrowsError(try make(), line: line) { error in
                let message = (error as? PrismError)?.message ?? "\(error)"
                XCTAssertTrue(message.hasPrefix("SentencePiece vocabulary: "), message, line: line)
                XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", line: line)
                XCTAssertFalse(message.contains("\n"), message, line: line)
            }
        }
        func make(
            _ pieces: [String] = ok, _ scores: [Float] = scores, _ types: [Int32] = types, bos: Int? = 2, unk: Int? = nil,
            addBOS: Bool = true
        ) throws -> SentencePieceVocabulary {
            try SentencePieceVocabulary(
                pieces: pieces, scores: scores, types: types, bosId: bos, eosId: 1, unkId: unk, padId: 0, addBOS: addBOS)
        }
        XCTAssertNoThrow(try make())
        expect("4 tokens but 3 scores") { try make(ok, [0, 0, 0]) }
        expect("4 tokens but 5 token types") { try make(ok, scores, [3, 3, 3, 1, 1]) }
        expect("tokens 1 and 3 are both \"<eos>\"") { try make(["<pad>", "<eos>", "<bos>", "<eos>"]) }
        expect("tokens 3 and 4 are both \"▁▁\"") {
            try make(ok.dropLast() + ["\u{2581}\u{2581}", "  "], [0, 0, 0, 0, 0], [3, 3, 3, 1, 4])
        }
        expect("token 3 has type 7") { try make(ok, scores, [3, 3, 3, 7]) }
        expect("token 0 has type 0") { try make(ok, scores, [0, 3, 3, 1]) }
        expect("the bos id 4 is outside the vocabulary (4 tokens)") { try make(bos: 4) }
        expect("the unk id -1 is outside") { try make(unk: -1) }
        expect("add_bos_token is true but there is no bos id") { try make(bos: nil) }
        expect("token 3 is empty") { try make(["<pad>", "<eos>", "<bos>", ""]) }
        expect("it has no tokens") { try make([], [], [], bos: nil, addBOS: false) }
    }
}

import PrismSupport

/// A SentencePiece vocabulary as a GGUF stores it (`tokenizer.ggml.tokens`, `.scores`,
/// `.token_type`, the special ids and `add_bos_token`; no merges), validated, and turned into the
/// tokenizer Hugging Face builds from the same arrays (transformers' GGUF path for `gemma`,
/// `gemma2` and `gemma3`: integrations/gguf/gguf_tokenizer_mapping.py, `gemma_tokenizer` and
/// `add_gguf_special_tokens`). See `tokenizerJSON()` for that tokenizer, rule by rule.
///
/// The value holds the pieces as the file spells them; `vocabularyPieces` holds them after
/// llama.cpp's space rewrite is undone (see `undoSpaceRewrite`), which is what the tokenizer uses.
public struct SentencePieceVocabulary: Sendable {
    /// llama.cpp's token type codes (`llama_token_type` / gguf's `TokenType`).
    public enum TokenType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The pieces as stored, id order (id = index).
    public let pieces: [String]
    /// One score per piece. Hugging Face's Gemma conversion ranks merges by vocabulary order, not
    /// by score (llama.cpp gives the added tokens -1000, which would rank the space runs' merges
    /// last; Gemma 3's normal pieces score 0, -1, -2, ... in id order), so scores are kept for
    /// reference only (any float, NaN included, is accepted).
    public let scores: [Float]
    /// One llama.cpp type per piece.
    public let types: [TokenType]
    public let bosId: Int?
    public let eosId: Int?
    public let unkId: Int?
    public let padId: Int?
    /// `tokenizer.ggml.add_bos_token`; transformers defaults it to true when a SentencePiece
    /// ("llama") GGUF lacks it, and so should the caller.
    public let addBOS: Bool
    /// `tokenizer.ggml.add_eos_token` (false when absent).
    public let addEOS: Bool
    /// The pieces the tokenizer uses: `pieces` with llama.cpp's space rewrite undone, as UTF-8.
    let vocabularyPieces: [[UInt8]]

    /// Validates the arrays.
    /// - Parameters:
    ///   - pieces: `tokenizer.ggml.tokens`, id order.
    ///   - scores: `tokenizer.ggml.scores`, one per piece.
    ///   - types: `tokenizer.ggml.token_type`, one per piece, llama.cpp's codes 1...6.
    ///   - bosId, eosId, unkId, padId: the special ids, nil when the file has none.
    /// - Throws: `PrismError` (one line) when the lengths differ, the vocabulary is empty or holds
    ///   more than 2^24 pieces, a piece is empty, a type code is not 1...6, a special id is
    ///   outside the vocabulary, `addBOS`/`addEOS` is set without the id, or two pieces are equal
    ///   (after the space rewrite is undone).
    public init(
        pieces: [String], scores: [Float], types: [Int32], bosId: Int?, eosId: Int?, unkId: Int?, padId: Int?,
        addBOS: Bool, addEOS: Bool = false
    ) throws {
        let n = pieces.count
        guard n > 0 else { throw PrismError("SentencePiece vocabulary: it has no tokens") }
        guard n <= 1 << 24 else { throw PrismError("SentencePiece vocabulary: \(n) tokens; at most 16,777,216 are supported") }
        guard scores.count == n else { throw PrismError("SentencePiece vocabulary: \(n) tokens but \(scores.count) scores") }
        guard types.count == n else { throw PrismError("SentencePiece vocabulary: \(n) tokens but \(types.count) token types") }
        var typed: [TokenType] = []
        typed.reserveCapacity(n)
        for (id, code) in types.enumerated() {
            guard let t = TokenType(rawValue: code) else {
                throw PrismError("SentencePiece vocabulary: token \(id) has type \(code); llama.cpp's types are 1 (normal) to 6 (byte)")
            }
            typed.append(t)
        }
        for (name, id) in [("bos", bosId), ("eos", eosId), ("unk", unkId), ("pad", padId)] {
            if let id, id < 0 || id >= n {
                throw PrismError("SentencePiece vocabulary: the \(name) id \(id) is outside the vocabulary (\(n) tokens)")
            }
        }
        if addBOS && bosId == nil { throw PrismError("SentencePiece vocabulary: add_bos_token is true but there is no bos id") }
        if addEOS && eosId == nil { throw PrismError("SentencePiece vocabulary: add_eos_token is true but there is no eos id") }
        var respelled: [[UInt8]] = []
        respelled.reserveCapacity(n)
        for (id, piece) in pieces.enumerated() {
            guard !piece.isEmpty else { throw PrismError("SentencePiece vocabulary: token \(id) is empty") }
            respelled.append(undoSpaceRewrite(piece))
        }
        self.pieces = pieces
        self.scores = scores
        self.types = typed
        self.bosId = bosId
        self.eosId = eosId
        self.unkId = unkId
        self.padId = padId
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.vocabularyPieces = respelled
        _ = try pieceTable()  // rejects duplicates now rather than when the tokenizer is built
    }

    /// The vocabulary pieces indexed (entry e has id e).
    /// - Throws: `PrismError` when two pieces are equal.
    func pieceTable() throws -> PieceTable {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vocabularyPieces.reduce(0) { $0 + $1.count })
        var starts = [0]
        starts.reserveCapacity(vocabularyPieces.count + 1)
        for p in vocabularyPieces {
            bytes.append(contentsOf: p)
            starts.append(bytes.count)
        }
        var table = PieceTable(bytes: bytes, starts: starts, ids: (0..<Int32(vocabularyPieces.count)).map { $0 })
        if let dup = table.buildIndex() {
            // The index holds every entry before `dup`, so the lookup finds the first one.
            let first = table.lookup(vocabularyPieces[dup])
            let shown = String(decoding: vocabularyPieces[dup], as: UTF8.self).debugDescription
            throw PrismError("SentencePiece vocabulary: tokens \(first) and \(dup) are both \(shown)")
        }
        return table
    }
}

/// Undoes llama.cpp's rewrite of "▁" as " " in Gemma's whitespace-run tokens, by transformers'
/// rule (`gemma_tokenizer`): a piece that holds a space (U+0020) and nothing but whitespace (in
/// Python's `str.isspace` sense) becomes "▁" once per scalar. Every other piece is unchanged.
///
/// Why that rule: llama.cpp's converter re-types every non-special entry of Hugging Face's
/// `added_tokens_decoder` as user-defined (type 4) and writes its "▁" as " "
/// ("pre-normalize user-defined spaces"). Measured on gemma-3-270m's GGUF: the only pieces holding
/// a space are ids 138...167, runs of 2 to 31 spaces, all user-defined; no user-defined piece holds
/// "▁" (the others are "\n" and "\t" runs, "<table>", "[multimodal]", ...). So there this rule and
/// "user-defined: ' ' -> '▁'" agree, and they turn back exactly what llama.cpp rewrote.
func undoSpaceRewrite(_ piece: String) -> [UInt8] {
    var sawSpace = false
    var count = 0
    for s in piece.unicodeScalars {
        guard isPythonWhitespace(s.value) else { return Array(piece.utf8) }
        if s.value == 0x20 { sawSpace = true }
        count += 1
    }
    guard sawSpace else { return Array(piece.utf8) }
    return Array(String(repeating: "\u{2581}", count: count).utf8)
}

/// Python's `str.isspace` (bidirectional class WS, B or S, or category Zs), the scalars CPython
/// accepts, listed.
private func isPythonWhitespace(_ v: UInt32) -> Bool {
    switch v {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
}

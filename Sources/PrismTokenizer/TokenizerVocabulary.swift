import PrismSupport

/// The id -> piece table of a `tokenizer.json`, read without building the tokenizer: only
/// `model.vocab` and `added_tokens` are kept; the merges are walked over (checked as JSON, not
/// stored) and no hash table is built. What labels and the JSON's "tokens" need when token ids
/// were given, at a fraction of `GemmaTokenizer`'s parse (which resolves 256k merges).
///
/// `piece(for:)` equals `GemmaTokenizer.piece(for:)` for every id of a file the tokenizer
/// accepts. The table checks the JSON's syntax, the vocabulary's ids, and the added tokens'
/// fields; the tokenizer's other checks (merges resolvable, added ids as Hugging Face numbers
/// them, supported normalizer/decoder) are left to `GemmaTokenizer`, which text encoding parses.
/// Immutable after loading.
public final class TokenizerVocabulary: @unchecked Sendable {
    /// Every vocabulary piece's UTF-8 bytes, one after another; entry e is
    /// `bytes[starts[e]..<starts[e + 1]]`.
    private let bytes: [UInt8]
    private let starts: [Int]
    /// id -> entry of `starts`, -1 for an id the vocabulary lacks.
    private let entryOfId: [Int32]
    /// id -> content, for the added tokens (which win over the vocabulary, as in the tokenizer).
    private let addedById: [Int: [UInt8]]

    /// How many tables this process has read (tests check that a command reads what it needs).
    public static var filesRead: Int { readCounter.value }
    static let readCounter = GemmaTokenizer.Counter()

    /// Reads the table from a `tokenizer.json`'s bytes.
    /// - Throws: `PrismError` ("tokenizer.json: ...") for malformed JSON, a vocabulary that is
    ///   not an object of ids or gives one id twice, or malformed added tokens.
    public init(jsonBytes: [UInt8]) throws {
        let read = try jsonBytes.withUnsafeBufferPointer { try Self.read($0) }
        Self.readCounter.increment()
        bytes = read.vocab.bytes
        starts = read.vocab.starts
        addedById = read.added
        let maxId = Int(read.vocab.ids.max() ?? -1)
        var byId = [Int32](repeating: -1, count: maxId + 1)
        for (e, id) in read.vocab.ids.enumerated() {
            guard byId[Int(id)] < 0 else { throw PrismError.tokenizerJSON("model.vocab gives id \(id) to two tokens") }
            byId[Int(id)] = Int32(e)
        }
        entryOfId = byId
    }

    /// The raw vocabulary string, e.g. "▁Paris" or "<0x0A>" (an added token's content); nil for
    /// an id neither the vocabulary nor the added tokens have.
    public func piece(for id: Int) -> String? {
        if let content = addedById[id] { return String(decoding: content, as: UTF8.self) }
        guard id >= 0, id < entryOfId.count else { return nil }
        let e = Int(entryOfId[id])
        guard e >= 0 else { return nil }
        return String(decoding: bytes[starts[e]..<starts[e + 1]], as: UTF8.self)
    }

    private typealias Read = (vocab: (bytes: [UInt8], starts: [Int], ids: [Int32]), added: [Int: [UInt8]])

    /// One pass over the document: `model.vocab` flat, `added_tokens` as values, the rest skipped.
    private static func read(_ buffer: UnsafeBufferPointer<UInt8>) throws -> Read {
        var r = try JSONReader(buffer)
        guard r.peek() == UInt8(ascii: "{") else { throw r.error("tokenizer.json must hold a JSON object") }
        r.pos += 1
        var first = true
        var key: [UInt8] = []
        var vocab: (bytes: [UInt8], starts: [Int], ids: [Int32])?
        var sawModel = false
        var added: [Int: [UInt8]] = [:]
        while try r.nextMember(&first, key: &key) {
            switch String(decoding: key, as: UTF8.self) {
            case "model":
                sawModel = true
                vocab = try readModel(&r)
            case "added_tokens": added = try addedTokens(try r.readValue())
            default: try r.skipValue()
            }
        }
        try r.expectEnd()
        guard sawModel else { throw PrismError("tokenizer.json has no model") }
        guard let vocab else { throw PrismError.tokenizerJSON("model has no vocab") }
        return (vocab, added)
    }

    /// The model object's `vocab`; its other members (the merges above all) skipped.
    private static func readModel(_ r: inout JSONReader) throws -> (bytes: [UInt8], starts: [Int], ids: [Int32])? {
        if try r.readNull() { throw PrismError.tokenizerJSON("model is null") }
        try r.expect(UInt8(ascii: "{"))
        var first = true
        var key: [UInt8] = []
        var vocab: (bytes: [UInt8], starts: [Int], ids: [Int32])?
        while try r.nextMember(&first, key: &key) {
            if key == Array("vocab".utf8) {
                guard vocab == nil else { throw PrismError.tokenizerJSON("model.vocab appears twice") }
                vocab = try r.readVocab()
            } else {
                try r.skipValue()
            }
        }
        return vocab
    }

    /// id -> content of every non-empty added token (the tokenizer ignores empty ones), by the
    /// id the file gives.
    private static func addedTokens(_ v: JSONValue) throws -> [Int: [UInt8]] {
        if v.isNull { return [:] }
        guard case .array(let items) = v else { throw PrismError.tokenizerJSON("added_tokens must be an array") }
        var out: [Int: [UInt8]] = [:]
        for (i, item) in items.enumerated() {
            let ctx = "added_tokens[\(i)]"
            let f = try item.fields(ctx, allowed: ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"])
            let content = try f.string("content", ctx)
            let id = try f.index("id", ctx)
            if !content.isEmpty { out[id] = content }
        }
        return out
    }
}

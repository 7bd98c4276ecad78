import Foundation
import PrismSupport

/// Gemma's tokenizer, read from a Hugging Face `tokenizer.json` and bit-identical with the
/// `tokenizers` library on it: added tokens matched first (longest, leftmost), the rest
/// normalized (" " -> "▁") and BPE-encoded as one word per piece (no pre-tokenizer), with byte
/// fallback; decoding through Replace, ByteFallback and Fuse. Immutable after loading, so it is
/// safe to share between threads.
public final class GemmaTokenizer: @unchecked Sendable {
    private let model: BPEModel
    private let normalizer: Normalizer
    /// Added tokens with `normalized: false`, matched on the raw text.
    private let rawMatcher: AddedTokenMatcher
    /// Added tokens with `normalized: true`, matched on normalized text.
    private let normalizedMatcher: AddedTokenMatcher
    private let decoder: [DecoderStep]?
    private let template: Template?
    /// id -> added token, for ids that have one.
    private let addedById: [Int: AddedToken]
    private let addedIdByContent: [[UInt8]: Int]
    /// Per id: dropped by `decode(skipSpecialTokens: true)`. HF tests the string it decodes for
    /// the id against the special tokens' contents, which this precomputes.
    private let skippedWhenDecoding: [Bool]
    /// Per added id whose decoding string differs from its content (normalized added tokens).
    private let decodeOverride: [Int: [UInt8]]

    public let vocabularySize: Int
    public let bosId: Int?
    public let eosId: Int?

    /// Reads and parses the tokenizer.json at `path`.
    /// - Throws: `PrismError` naming `path`: unreadable, not JSON, or a tokenizer this loader
    ///   does not support (a fault inside the file reads "`path`: ..." where `init(jsonBytes:)`
    ///   says "tokenizer.json: ...").
    public convenience init(path: String) throws {
        let mapped = try MappedFile(path: path)
        let file: TokenizerFile
        do {
            file = try TokenizerFile(bytes: mapped.all.bindMemory(to: UInt8.self))
        } catch let error as PrismError {
            // A fault inside the file names the file by its path instead of "tokenizer.json".
            if case .tokenizerJSON(let detail) = error.kind { throw PrismError("\(path): \(detail)") }
            throw PrismError.wrap(error, path)
        } catch {
            throw PrismError.wrap(error, path)
        }
        self.init(file: file)
    }

    /// Parses a tokenizer.json held in memory.
    /// - Throws: `PrismError` ("tokenizer.json: ...", kind `.tokenizerJSON` for a fault in the
    ///   content) for malformed JSON or an unsupported tokenizer.
    public convenience init(jsonBytes: [UInt8]) throws {
        self.init(file: try jsonBytes.withUnsafeBufferPointer { try TokenizerFile(bytes: $0) })
    }

    /// How many tokenizer.json files this process has parsed (a 256k-entry file takes ~0.3 s):
    /// lets tests check that a command parses its model's tokenizer once at most.
    public static var filesParsed: Int { parseCounter.value }
    static let parseCounter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
        func increment() { lock.lock(); n += 1; lock.unlock() }
    }

    private init(file: TokenizerFile) {
        Self.parseCounter.increment()
        model = file.model
        normalizer = file.normalizer
        decoder = file.decoder
        template = file.template

        var byId: [Int: AddedToken] = [:]
        var byContent: [[UInt8]: Int] = [:]
        var raw: [(pattern: [UInt8], id: Int)] = []
        var normalizedPatterns: [(pattern: [UInt8], id: Int)] = []
        var overrides: [Int: [UInt8]] = [:]
        for t in file.added {
            byId[t.id] = t
            byContent[t.content] = t.id
            if t.normalized {
                // HF matches such a token by its normalized form and decodes it from that form.
                let form = t.content.withUnsafeBufferPointer { file.normalizer.apply($0) }
                normalizedPatterns.append((form, t.id))
                if form != t.content { overrides[t.id] = form }
            } else {
                raw.append((t.content, t.id))
            }
        }
        addedById = byId
        addedIdByContent = byContent
        decodeOverride = overrides
        rawMatcher = AddedTokenMatcher(raw)
        normalizedMatcher = AddedTokenMatcher(normalizedPatterns)

        let size = max(model.entryOfId.count, (file.added.map(\.id).max() ?? -1) + 1)
        vocabularySize = size
        var skipped = [Bool](repeating: false, count: size)
        let specialContents = Set(file.added.filter(\.special).map(\.content))
        for content in specialContents {
            let id = Int(model.vocab.lookup(content))
            if id >= 0, byId[id] == nil { skipped[id] = true }
        }
        for t in file.added {
            skipped[t.id] = specialContents.contains(overrides[t.id] ?? t.content)
        }
        skippedWhenDecoding = skipped

        let bosByName = byContent[Array("<bos>".utf8)] ?? GemmaTokenizer.vocabId(model, "<bos>")
        bosId = file.template?.prefix.first ?? bosByName
        eosId = file.template?.suffix.last ?? byContent[Array("<eos>".utf8)] ?? GemmaTokenizer.vocabId(model, "<eos>")
    }

    private static func vocabId(_ model: BPEModel, _ piece: String) -> Int? {
        let id = model.vocab.lookup(Array(piece.utf8))
        return id >= 0 ? Int(id) : nil
    }

    // MARK: Encoding

    /// HF's `encode(text, add_special_tokens: addBos)`.
    public func encode(_ text: String, addBos: Bool = true) -> [Int] {
        var out: [Int] = []
        if addBos, let template { out.append(contentsOf: template.prefix) }
        // Native strings are contiguous UTF-8: no copy. Others (bridged) are copied once.
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { encodeBody($0, into: &out) }
        if done == nil { Array(text.utf8).withUnsafeBufferPointer { encodeBody($0, into: &out) } }
        if addBos, let template { out.append(contentsOf: template.suffix) }
        return out
    }

    private func encodeBody(_ text: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        out.reserveCapacity(out.count + text.count / 3 + 2)
        rawMatcher.split(text, 0..<text.count) { range, id in
            if let id {
                out.append(id)
                return
            }
            let normalized = normalizer.apply(UnsafeBufferPointer(rebasing: text[range]))
            normalized.withUnsafeBufferPointer { norm in
                normalizedMatcher.split(norm, 0..<norm.count) { sub, id in
                    if let id {
                        out.append(id)
                    } else {
                        model.encode(UnsafeBufferPointer(rebasing: norm[sub]), into: &out)
                    }
                }
            }
        }
    }

    // MARK: Decoding

    /// HF's `decode(ids, skip_special_tokens:)`, except that an id outside the vocabulary is an
    /// error here (HF silently drops it).
    /// - Throws: `PrismError` for an id outside the vocabulary.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) throws -> String {
        var tokens = TokenList()
        tokens.ends.reserveCapacity(ids.count)
        try model.vocab.bytes.withUnsafeBufferPointer { vocabBytes in
            for id in ids {
                guard id >= 0, id < vocabularySize else { throw outside(id) }
                if skipSpecialTokens && skippedWhenDecoding[id] { continue }
                // The string HF decodes for an id: the added token's (normalized) form, else
                // the vocabulary's.
                if let t = addedById[id] {
                    tokens.bytes.append(contentsOf: decodeOverride[id] ?? t.content)
                } else {
                    let e = id < model.entryOfId.count ? Int(model.entryOfId[id]) : -1
                    guard e >= 0 else { throw outside(id) }
                    tokens.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: vocabBytes[model.vocab.starts[e]..<model.vocab.starts[e + 1]]))
                }
                tokens.close()
            }
        }
        guard let decoder else {
            // HF without a decoder: the token strings joined with spaces.
            var joined: [UInt8] = []
            for i in 0..<tokens.count {
                if i > 0 { joined.append(0x20) }
                joined.append(contentsOf: tokens.bytes[tokens.range(i)])
            }
            return String(decoding: joined, as: UTF8.self)
        }
        for step in decoder { tokens = step.apply(tokens) }
        return String(decoding: tokens.bytes, as: UTF8.self)
    }

    private func outside(_ id: Int) -> PrismError {
        PrismError("cannot decode token id \(id): not in the vocabulary (size \(vocabularySize))")
    }

    private func vocabBytes(_ id: Int) -> [UInt8]? {
        guard id >= 0, id < model.entryOfId.count else { return nil }
        let e = Int(model.entryOfId[id])
        return e >= 0 ? Array(model.vocab.entry(e)) : nil
    }

    // MARK: Vocabulary

    /// The raw vocabulary string, e.g. "▁Paris" or "<0x0A>" (an added token's content).
    public func piece(for id: Int) -> String? {
        if let t = addedById[id] { return String(decoding: t.content, as: UTF8.self) }
        return vocabBytes(id).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Exact lookup by Unicode scalars (bytes), so "é" and "e\u{301}" are different pieces.
    public func id(forPiece piece: String) -> Int? {
        let bytes = Array(piece.utf8)
        if let id = addedIdByContent[bytes] { return id }
        let id = model.vocab.lookup(bytes)
        return id >= 0 ? Int(id) : nil
    }

    /// Whether the id is an added token marked special (`<bos>`, `<start_of_turn>`, ...).
    public func isSpecial(_ id: Int) -> Bool {
        addedById[id]?.special ?? false
    }
}

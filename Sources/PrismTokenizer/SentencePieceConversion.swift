import PrismSupport

extension SentencePieceVocabulary {
    /// A Hugging Face `tokenizer.json` (UTF-8 bytes) for this vocabulary: the tokenizer
    /// transformers builds from the same GGUF arrays, which `GemmaTokenizer(jsonBytes:)` and the
    /// `tokenizers` library then load. Rules, each as transformers applies them:
    /// - model: BPE over `vocabularyPieces` (ids = positions), `byte_fallback` and `fuse_unk` on,
    ///   `unk_token` "<unk>" (GemmaTokenizer's default; the unk id's piece if the vocabulary has
    ///   no "<unk>"), merges from `mergePairs()`;
    /// - normalizer Replace(" " -> "▁"); no pre-tokenizer (transformers sets
    ///   Split(" ", merged_with_previous), which after that normalizer never finds a space);
    ///   decoder Replace("▁" -> " "), ByteFallback, Fuse;
    /// - added tokens, all matched on raw text (`normalized: false`): special for every control
    ///   (type 3) piece and the bos/eos/unk/pad ids' pieces; not special for every user-defined
    ///   (type 4) piece that is not a respelled whitespace run (those are plain BPE pieces there);
    /// - post-processor: bos before the text when `addBOS`, eos after it when `addEOS`.
    /// One deliberate difference: transformers also adds "<mask>" as a new special token (id =
    /// vocabulary size) when the vocabulary lacks it; this does not, as the model has no row for
    /// it (every Gemma vocabulary holds "<mask>").
    /// - Throws: `PrismError` only if the vocabulary repeats a piece, which `init` already rejects.
    public func tokenizerJSON() throws -> [UInt8] {
        let table = try pieceTable()
        var w = JSONWriter()
        w.raw("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[")
        for (k, (id, special)) in addedTokens().enumerated() {
            if k > 0 { w.raw(",") }
            w.raw("{\"id\":\(id),\"content\":")
            w.string(vocabularyPieces[id])
            w.raw(",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":\(special)}")
        }
        w.raw("],\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u{2581}\"},\"pre_tokenizer\":null,")
        w.raw("\"post_processor\":")
        writeTemplate(&w)
        w.raw(",\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\u{2581}\"},\"content\":\" \"},")
        w.raw("{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]},")
        w.raw("\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":")
        if let unk = unkPiece(table) { w.string(unk) } else { w.raw("null") }
        w.raw(",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,")
        w.raw("\"ignore_merges\":false,\"vocab\":{")
        for (id, piece) in vocabularyPieces.enumerated() {
            if id > 0 { w.raw(",") }
            w.string(piece)
            w.raw(":\(id)")
        }
        w.raw("},\"merges\":[")
        for (k, m) in mergePairs(table).enumerated() {
            if k > 0 { w.raw(",") }
            let piece = vocabularyPieces[Int(m.id)]
            w.raw("[")
            w.string(piece[..<Int(m.cut)])
            w.raw(",")
            w.string(piece[Int(m.cut)...])
            w.raw("]")
        }
        w.raw("]}}")
        return w.out
    }

    /// transformers' `generate_merges(vocab, {piece: -id})`: every split of every piece into two
    /// pieces that are both in the vocabulary, ordered by the whole piece's id, then by the left
    /// part's length, longest first (the Python sort key (-id, len(left), len(right)), reversed;
    /// one piece's splits all differ in that length). Splits fall between Unicode scalars.
    /// Returns (piece id, byte offset of the split).
    func mergePairs(_ table: PieceTable) -> [(id: Int32, cut: Int32)] {
        var out: [(id: Int32, cut: Int32)] = []
        out.reserveCapacity(vocabularyPieces.count * 2)
        var cuts: [Int] = []
        for (id, piece) in vocabularyPieces.enumerated() {
            cuts.removeAll(keepingCapacity: true)
            for i in 1..<max(piece.count, 1) where piece[i] & 0xC0 != 0x80 { cuts.append(i) }
            guard !cuts.isEmpty else { continue }
            piece.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress else { return }
                for cut in cuts.reversed() where table.lookup(base, cut) >= 0 && table.lookup(base + cut, p.count - cut) >= 0 {
                    out.append((Int32(id), Int32(cut)))
                }
            }
        }
        return out
    }

    /// (id, special) of every added token, by id, as `add_gguf_special_tokens` and the special
    /// tokens transformers registers from the GGUF's bos/eos/unk/pad ids.
    func addedTokens() -> [(id: Int, special: Bool)] {
        var special = [Bool](repeating: false, count: types.count)
        for (id, t) in types.enumerated() where t == .control { special[id] = true }
        for id in [bosId, eosId, unkId, padId].compactMap({ $0 }) { special[id] = true }
        var out: [(id: Int, special: Bool)] = []
        for id in 0..<types.count {
            if special[id] {
                out.append((id, true))
            } else if types[id] == .userDefined && vocabularyPieces[id].elementsEqual(pieces[id].utf8) {
                // A respelled run is not added: transformers looks the stored spelling ("  ") up
                // in the respelled vocabulary and does not find it.
                out.append((id, false))
            }
        }
        return out
    }

    private func unkPiece(_ table: PieceTable) -> [UInt8]? {
        let name = Array("<unk>".utf8)
        if table.lookup(name) >= 0 { return name }
        return unkId.map { vocabularyPieces[$0] }
    }

    /// TemplateProcessing as transformers' `update_post_processor` writes it.
    private func writeTemplate(_ w: inout JSONWriter) {
        let bos = addBOS ? bosId : nil
        let eos = addEOS ? eosId : nil
        func special(_ id: Int?, typeId: Int) -> String {
            guard let id else { return "" }
            return "{\"SpecialToken\":{\"id\":\(quoted(vocabularyPieces[id])),\"type_id\":\(typeId)}},"
        }
        func sequence(_ name: String, typeId: Int) -> String { "{\"Sequence\":{\"id\":\"\(name)\",\"type_id\":\(typeId)}}," }
        func list(_ items: String) -> String { "[" + items.dropLast() + "]" }
        let single = special(bos, typeId: 0) + sequence("A", typeId: 0) + special(eos, typeId: 0)
        let pair = single + special(bos, typeId: 1) + sequence("B", typeId: 1) + special(eos, typeId: 1)
        var entries: [(name: String, id: Int)] = []
        for id in [bos, eos].compactMap({ $0 }) where !entries.contains(where: { $0.id == id }) {
            entries.append((quoted(vocabularyPieces[id]), id))
        }
        let specials = entries.map { "\($0.name):{\"id\":\($0.name),\"ids\":[\($0.id)],\"tokens\":[\($0.name)]}" }.joined(separator: ",")
        w.raw("{\"type\":\"TemplateProcessing\",\"single\":\(list(single)),\"pair\":\(list(pair)),\"special_tokens\":{\(specials)}}")
    }

    private func quoted(_ bytes: [UInt8]) -> String {
        var w = JSONWriter()
        w.string(bytes)
        return String(decoding: w.out, as: UTF8.self)
    }
}

/// Appends JSON text to a byte buffer.
private struct JSONWriter {
    var out: [UInt8] = []

    mutating func raw(_ s: String) { out.append(contentsOf: s.utf8) }

    /// A JSON string of valid UTF-8 bytes: quote, backslash and C0 controls escaped, the rest raw.
    mutating func string<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension GemmaTokenizer {
    /// The tokenizer Hugging Face builds from a GGUF's SentencePiece vocabulary: this loader
    /// reading `vocabulary.tokenizerJSON()`, so it equals what a converted file stores.
    /// - Throws: `PrismError` if the rendered file does not load (a bug, not bad input: every
    ///   check the loader makes is either met by construction or made by the vocabulary's init).
    public convenience init(sentencePiece vocabulary: SentencePieceVocabulary) throws {
        try self.init(jsonBytes: try vocabulary.tokenizerJSON())
    }
}

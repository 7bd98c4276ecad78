import PrismSupport

/// An entry of `added_tokens`, with the id Hugging Face gives it.
struct AddedToken {
    let content: [UInt8]
    let id: Int
    let special: Bool
    let normalized: Bool
}

/// The single-sequence post-processor template: ids before and after the text.
struct Template {
    let prefix: [Int]
    let suffix: [Int]
}

/// Everything read from tokenizer.json.
struct TokenizerFile {
    var model: BPEModel
    var added: [AddedToken]
    var normalizer: Normalizer
    /// nil: no decoder, tokens are joined with spaces (HF's behaviour without one).
    var decoder: [DecoderStep]?
    var template: Template?
}

private let topLevelFields = [
    "version", "truncation", "padding", "added_tokens", "normalizer",
    "pre_tokenizer", "post_processor", "decoder", "model",
]

extension TokenizerFile {
    init(bytes buffer: UnsafeBufferPointer<UInt8>) throws {
        var r = try JSONReader(buffer)
        guard r.peek() == UInt8(ascii: "{") else { throw r.error("tokenizer.json must hold a JSON object") }
        r.pos += 1
        var first = true
        var key: [UInt8] = []
        var small: [String: JSONValue] = [:]
        var rawModel: RawModel?
        while try r.nextMember(&first, key: &key) {
            let k = String(decoding: key, as: UTF8.self)
            guard topLevelFields.contains(k) else { throw PrismError.tokenizerJSON("unsupported top-level field '\(k)'") }
            guard small[k] == nil, !(k == "model" && rawModel != nil) else {
                throw PrismError.tokenizerJSON("the field '\(k)' appears twice")
            }
            if k == "model" {
                rawModel = try RawModel(reading: &r)
            } else {
                small[k] = try r.readValue()
            }
        }
        try r.expectEnd()
        guard let rawModel else { throw PrismError("tokenizer.json has no model") }

        if let v = small["version"], !v.isNull {
            guard case .string(let s) = v, s == Array("1.0".utf8) else {
                throw PrismError.tokenizerJSON("unknown version \(v.brief); expected '1.0'")
            }
        }
        for k in ["truncation", "padding", "pre_tokenizer"] {
            if let v = small[k], !v.isNull {
                throw PrismError.tokenizerJSON("'\(k)' is set; this loader supports only Gemma's tokenizer, where it is null")
            }
        }
        model = try rawModel.build()
        normalizer = Normalizer(steps: try parseNormalizer(small["normalizer"] ?? .null))
        decoder = try parseDecoder(small["decoder"] ?? .null)
        added = try parseAddedTokens(small["added_tokens"] ?? .null, model: model, normalizer: normalizer)
        template = try parseTemplate(small["post_processor"] ?? .null, model: model, added: added)
    }
}

// MARK: - The model

/// The model object as read: the vocabulary and merges flat, the small fields as values.
private struct RawModel {
    var fields: [String: JSONValue] = [:]
    var unsupportedField: String?
    var vocab: (bytes: [UInt8], starts: [Int], ids: [Int32])?
    /// Merge i joins parts[bounds[2i]..<bounds[2i+1]] and parts[bounds[2i+1]..<bounds[2i+2]].
    var merges: (parts: [UInt8], bounds: [Int])?

    static let smallFields = [
        "type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
        "fuse_unk", "byte_fallback", "ignore_merges",
    ]

    init(reading r: inout JSONReader) throws {
        if try r.readNull() { throw PrismError.tokenizerJSON("model is null") }
        try r.expect(UInt8(ascii: "{"))
        var first = true
        var key: [UInt8] = []
        var seen: Set<String> = []
        while try r.nextMember(&first, key: &key) {
            let k = String(decoding: key, as: UTF8.self)
            guard seen.insert(k).inserted else { throw PrismError.tokenizerJSON("model.\(k) appears twice") }
            switch k {
            case "vocab": vocab = try r.readVocab()
            case "merges": merges = try RawModel.readMerges(&r)
            default:
                // Unknown fields are reported after the type check, which gives the clearer error.
                if !RawModel.smallFields.contains(k), unsupportedField == nil { unsupportedField = k }
                fields[k] = try r.readValue()
            }
        }
    }

    /// `["a b", ...]` (the 2024 files) or `[["a", "b"], ...]` (newer), not mixed, as HF's
    /// untagged `MergeType`. In the string form, entries starting with "#version" are skipped and
    /// each other must hold exactly one space (HF's `convert_merges_to_hashmap`).
    static func readMerges(_ r: inout JSONReader) throws -> (parts: [UInt8], bounds: [Int]) {
        guard r.peek() == UInt8(ascii: "[") else { throw r.error("model.merges must be an array") }
        r.pos += 1
        var parts: [UInt8] = []
        var bounds = [0]
        var stringForm: Bool?
        var scratch: [UInt8] = []
        var first = true
        let versionPrefix = Array("#version".utf8)
        while try r.nextElement(&first) {
            let isString = r.peek() == UInt8(ascii: "\"")
            if stringForm == nil { stringForm = isString }
            guard stringForm == isString else { throw r.error("model.merges mixes \"a b\" strings and [a, b] pairs") }
            let number = bounds.count / 2 + 1
            if isString {
                scratch.removeAll(keepingCapacity: true)
                try r.readString(into: &scratch)
                if scratch.starts(with: versionPrefix) { continue }
                let spaces = scratch.indices.filter { scratch[$0] == 0x20 }
                guard spaces.count == 1, let space = spaces.first else {
                    throw PrismError.tokenizerJSON("merge \(number) '\(String(decoding: scratch, as: UTF8.self))' is not two tokens separated by one space")
                }
                parts.append(contentsOf: scratch[..<space])
                bounds.append(parts.count)
                parts.append(contentsOf: scratch[(space + 1)...])
                bounds.append(parts.count)
            } else {
                guard r.peek() == UInt8(ascii: "[") else { throw r.error("merge \(number) must be a string or a pair of strings") }
                r.pos += 1
                var innerFirst = true
                var n = 0
                while try r.nextElement(&innerFirst) {
                    guard n < 2, r.peek() == UInt8(ascii: "\"") else { throw r.error("merge \(number) must be a pair of two strings") }
                    try r.readString(into: &parts)
                    bounds.append(parts.count)
                    n += 1
                }
                guard n == 2 else { throw r.error("merge \(number) must be a pair of two strings") }
            }
        }
        return (parts, bounds)
    }

    func build() throws -> BPEModel {
        let type = fields["type"] ?? .null
        guard case .string(let t) = type else { throw PrismError.tokenizerJSON("model.type is missing; expected 'BPE'") }
        guard t == Array("BPE".utf8) else {
            throw PrismError.tokenizerJSON("model type \(type.brief) is not supported; only BPE (Gemma's) is")
        }
        if let f = unsupportedField { throw PrismError.tokenizerJSON("model has the unsupported field '\(f)'") }
        guard let vocab, let merges else { throw PrismError.tokenizerJSON("model needs both vocab and merges") }

        if let d = fields["dropout"], !d.isNull {
            // HF treats 0 as no dropout; anything else makes encoding random.
            guard case .number(let text, _) = d, Double(text) == 0 else {
                throw PrismError.tokenizerJSON("model.dropout is \(d.brief); BPE dropout is not supported (it must be null)")
            }
        }
        for k in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = try fields.optionalString(k, "model"), !s.isEmpty {
                throw PrismError.tokenizerJSON("model.\(k) is '\(String(decoding: s, as: UTF8.self))'; only null is supported")
            }
        }

        var table = PieceTable(bytes: vocab.bytes, starts: vocab.starts, ids: vocab.ids)
        if let dup = table.buildIndex() {
            throw PrismError.tokenizerJSON("model.vocab repeats the token '\(String(decoding: table.entry(dup), as: UTF8.self))'")
        }
        let maxId = Int(vocab.ids.max() ?? -1)
        var entryOfId = [Int32](repeating: -1, count: maxId + 1)
        for (e, id) in vocab.ids.enumerated() {
            guard entryOfId[Int(id)] < 0 else {
                throw PrismError.tokenizerJSON("model.vocab gives id \(id) to two tokens")
            }
            entryOfId[Int(id)] = Int32(e)
        }

        let mergeTable = try RawModel.resolveMerges(merges, table)

        var unkId: Int32?
        if let unk = try fields.optionalString("unk_token", "model") {
            let id = table.lookup(unk)
            guard id >= 0 else {
                throw PrismError.tokenizerJSON("model.unk_token '\(String(decoding: unk, as: UTF8.self))' is not in the vocabulary")
            }
            unkId = id
        }
        return BPEModel(
            vocab: table, entryOfId: entryOfId, merges: mergeTable, unkId: unkId,
            fuseUnk: try fields.bool("fuse_unk", "model", absent: false),
            byteFallback: try fields.bool("byte_fallback", "model", absent: false),
            ignoreMerges: try fields.bool("ignore_merges", "model", absent: false))
    }

    /// Pairs of ids to (rank, merged id), as `BpeBuilder::build`: each part and their
    /// concatenation must be in the vocabulary; a repeated pair keeps its last rank.
    static func resolveMerges(_ merges: (parts: [UInt8], bounds: [Int]), _ table: PieceTable) throws -> PairTable {
        let count = (merges.bounds.count - 1) / 2
        var out = PairTable(expected: count)
        var joined: [UInt8] = []
        try merges.parts.withUnsafeBufferPointer { parts in
            func text(_ lo: Int, _ hi: Int) -> String { String(decoding: parts[lo..<hi], as: UTF8.self) }
            func lookup(_ lo: Int, _ hi: Int) -> Int32 {
                guard let base = parts.baseAddress else { return table.lookup([]) }
                return table.lookup(base + lo, hi - lo)
            }
            for i in 0..<count {
                let a0 = merges.bounds[2 * i], a1 = merges.bounds[2 * i + 1], b1 = merges.bounds[2 * i + 2]
                let a = lookup(a0, a1), b = lookup(a1, b1)
                guard a >= 0 else { throw PrismError.tokenizerJSON("merge \(i + 1) uses '\(text(a0, a1))', which is not in the vocabulary") }
                guard b >= 0 else { throw PrismError.tokenizerJSON("merge \(i + 1) uses '\(text(a1, b1))', which is not in the vocabulary") }
                // The two parts lie next to each other in `parts`: that is their concatenation.
                let merged = lookup(a0, b1)
                guard merged >= 0 else {
                    joined = Array(parts[a0..<b1])
                    throw PrismError.tokenizerJSON("merge \(i + 1) makes '\(String(decoding: joined, as: UTF8.self))', which is not in the vocabulary")
                }
                out.insert(PairTable.key(UInt32(a), UInt32(b)), UInt64(i) << 32 | UInt64(merged))
            }
        }
        return out
    }
}

// MARK: - Normalizer, decoder, added tokens, post-processor

private func typeOf(_ v: JSONValue, _ context: String) throws -> String {
    guard case .object(let members) = v,
        let t = members.first(where: { $0.key == Array("type".utf8) })?.value,
        case .string(let s) = t
    else { throw PrismError.tokenizerJSON("\(context) has no type") }
    return String(decoding: s, as: UTF8.self)
}

/// `Replace` with `{"String": ...}` patterns; Regex patterns are not implemented.
private func parseReplace(_ v: JSONValue, _ context: String) throws -> Replacement {
    let f = try v.fields(context, allowed: ["type", "pattern", "content"])
    let pattern = try (f["pattern"] ?? .null).fields("\(context).pattern", allowed: ["String", "Regex"])
    guard pattern["Regex"] == nil else { throw PrismError.tokenizerJSON("\(context) uses a Regex pattern; only String patterns are supported") }
    let p = try pattern.string("String", "\(context).pattern")
    guard !p.isEmpty else { throw PrismError.tokenizerJSON("\(context) has an empty pattern") }
    return Replacement(pattern: p, content: try f.string("content", context))
}

private func parseNormalizer(_ v: JSONValue, depth: Int = 0) throws -> [Replacement] {
    if v.isNull { return [] }
    let type = try typeOf(v, "normalizer")
    switch type {
    case "Replace": return [try parseReplace(v, "normalizer")]
    case "Sequence" where depth < 8:
        let f = try v.fields("normalizer", allowed: ["type", "normalizers"])
        return try f.array("normalizers", "normalizer").flatMap { try parseNormalizer($0, depth: depth + 1) }
    default:
        throw PrismError.tokenizerJSON("normalizer '\(type)' is not supported (Gemma's is Replace \" \" -> \"\u{2581}\")")
    }
}

private func parseDecoder(_ v: JSONValue, depth: Int = 0) throws -> [DecoderStep]? {
    if v.isNull { return depth == 0 ? nil : [] }
    let type = try typeOf(v, "decoder")
    switch type {
    case "Replace": return [.replace(try parseReplace(v, "decoder"))]
    case "ByteFallback":
        _ = try v.fields("decoder", allowed: ["type"])
        return [.byteFallback]
    case "Fuse":
        _ = try v.fields("decoder", allowed: ["type"])
        return [.fuse]
    case "Sequence" where depth < 8:
        let f = try v.fields("decoder", allowed: ["type", "decoders"])
        return try f.array("decoders", "decoder").flatMap { try parseDecoder($0, depth: depth + 1) ?? [] }
    default:
        throw PrismError.tokenizerJSON("decoder '\(type)' is not supported (Gemma's is Replace, ByteFallback, Fuse)")
    }
}

/// HF's ids for added tokens (`AddedVocabulary::add_tokens` as called on loading): a content
/// already in the vocabulary keeps its id, any other is numbered from the vocabulary's size.
/// The ids written in the file must agree, else this loader and HF would differ.
private func parseAddedTokens(_ v: JSONValue, model: BPEModel, normalizer: Normalizer) throws -> [AddedToken] {
    if v.isNull { return [] }
    guard case .array(let items) = v else { throw PrismError.tokenizerJSON("added_tokens must be an array") }
    var nextId = model.vocab.count
    var seen: Set<[UInt8]> = []
    var out: [AddedToken] = []
    for (i, item) in items.enumerated() {
        let ctx = "added_tokens[\(i)]"
        let f = try item.fields(ctx, allowed: ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"])
        let content = try f.string("content", ctx)
        let fileId = try f.index("id", ctx)
        let name = String(decoding: content, as: UTF8.self)
        for flag in ["single_word", "lstrip", "rstrip"] where try f.bool(flag, ctx, absent: nil) {
            throw PrismError.tokenizerJSON("added token '\(name)' sets \(flag), which is not supported")
        }
        let normalized = try f.bool("normalized", ctx, absent: nil)
        let special = try f.bool("special", ctx, absent: nil)
        if content.isEmpty { continue }  // HF ignores empty added tokens
        guard seen.insert(content).inserted else { throw PrismError.tokenizerJSON("added token '\(name)' appears twice") }
        var id = Int(model.vocab.lookup(content))
        if id < 0 {
            id = nextId
            nextId += 1
            if id < model.entryOfId.count, model.entryOfId[id] >= 0 {
                throw PrismError.tokenizerJSON("added token '\(name)' would get id \(id), which the vocabulary gives to another token")
            }
        }
        guard id == fileId else {
            throw PrismError.tokenizerJSON("added token '\(name)' has id \(fileId) in the file, but Hugging Face gives it id \(id)")
        }
        out.append(AddedToken(content: content, id: id, special: special, normalized: normalized))
    }
    return out
}

/// `TemplateProcessing`'s `single` template: special tokens around one `$A`.
private func parseTemplate(_ v: JSONValue, model: BPEModel, added: [AddedToken]) throws -> Template? {
    if v.isNull { return nil }
    let type = try typeOf(v, "post_processor")
    guard type == "TemplateProcessing" else {
        throw PrismError.tokenizerJSON("post_processor '\(type)' is not supported (Gemma's is TemplateProcessing)")
    }
    let f = try v.fields("post_processor", allowed: ["type", "single", "pair", "special_tokens"])
    guard case .object(let specialMembers)? = f["special_tokens"] else {
        throw PrismError.tokenizerJSON("post_processor.special_tokens must be an object")
    }
    var prefix: [Int] = [], suffix: [Int] = []
    var sawSequence = false
    for (i, piece) in try f.array("single", "post_processor").enumerated() {
        let ctx = "post_processor.single[\(i)]"
        let p = try piece.fields(ctx, allowed: ["SpecialToken", "Sequence"])
        guard p.count == 1 else { throw PrismError.tokenizerJSON("\(ctx) must be one SpecialToken or Sequence") }
        if let seq = p["Sequence"] {
            let s = try seq.fields(ctx, allowed: ["id", "type_id"])
            guard try s.string("id", ctx) == Array("A".utf8), !sawSequence else {
                throw PrismError.tokenizerJSON("\(ctx): the single template must hold the sequence $A exactly once")
            }
            sawSequence = true
        } else if let tok = p["SpecialToken"] {
            let s = try tok.fields(ctx, allowed: ["id", "type_id"])
            let name = try s.string("id", ctx)
            guard let entry = specialMembers.first(where: { $0.key == name })?.value else {
                throw PrismError.tokenizerJSON("\(ctx) names '\(String(decoding: name, as: UTF8.self))', which is not in post_processor.special_tokens")
            }
            let e = try entry.fields("post_processor.special_tokens", allowed: ["id", "ids", "tokens"])
            for idValue in try e.array("ids", "post_processor.special_tokens") {
                guard case .number(let t, true) = idValue, let id = Int(t), isKnownId(id, model, added) else {
                    throw PrismError.tokenizerJSON("post_processor.special_tokens has the id \(idValue.brief), which is not in the vocabulary")
                }
                if sawSequence { suffix.append(id) } else { prefix.append(id) }
            }
        }
    }
    guard sawSequence else { throw PrismError.tokenizerJSON("post_processor.single has no $A") }
    return Template(prefix: prefix, suffix: suffix)
}

private func isKnownId(_ id: Int, _ model: BPEModel, _ added: [AddedToken]) -> Bool {
    (id >= 0 && id < model.entryOfId.count && model.entryOfId[id] >= 0) || added.contains { $0.id == id }
}

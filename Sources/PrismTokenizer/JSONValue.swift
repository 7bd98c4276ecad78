import PrismSupport

/// A small JSON value, for the parts of tokenizer.json other than the vocabulary and merges.
/// Strings stay as UTF-8 bytes (see `JSONReader`).
indirect enum JSONValue {
    case null
    case bool(Bool)
    case number(String, isInteger: Bool)
    case string([UInt8])
    case array([JSONValue])
    case object([(key: [UInt8], value: JSONValue)])

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// For messages: a string's text, or the kind of value.
    var brief: String {
        if case .string(let s) = self { return "'\(String(decoding: s, as: UTF8.self))'" }
        if case .number(let t, _) = self { return t }
        if case .bool(let b) = self { return "\(b)" }
        return typeName
    }

    /// The members of an object, after checking that every key is one of `allowed` and that
    /// none repeats. Unknown keys are errors: a feature this loader does not implement must not
    /// be silently ignored.
    func fields(_ context: String, allowed: [String]) throws -> [String: JSONValue] {
        guard case .object(let members) = self else { throw PrismError.tokenizerJSON("\(context) must be an object, found \(typeName)") }
        var out: [String: JSONValue] = [:]
        for (k, v) in members {
            let key = String(decoding: k, as: UTF8.self)
            guard allowed.contains(key) else {
                throw PrismError.tokenizerJSON("\(context) has the unsupported field '\(key)'")
            }
            guard out[key] == nil else { throw PrismError.tokenizerJSON("\(context) repeats the field '\(key)'") }
            out[key] = v
        }
        return out
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    func string(_ key: String, _ context: String) throws -> [UInt8] {
        guard case .string(let s)? = self[key] else {
            throw PrismError.tokenizerJSON("\(context).\(key) must be a string, found \(self[key]?.typeName ?? "nothing")")
        }
        return s
    }

    /// A string or null/absent.
    func optionalString(_ key: String, _ context: String) throws -> [UInt8]? {
        guard let v = self[key], !v.isNull else { return nil }
        guard case .string(let s) = v else { throw PrismError.tokenizerJSON("\(context).\(key) must be a string or null, found \(v.typeName)") }
        return s
    }

    /// A boolean, or `absent` if null or missing (HF's serde defaults).
    func bool(_ key: String, _ context: String, absent: Bool?) throws -> Bool {
        guard let v = self[key], !v.isNull else {
            guard let absent else { throw PrismError.tokenizerJSON("\(context).\(key) is missing") }
            return absent
        }
        guard case .bool(let b) = v else { throw PrismError.tokenizerJSON("\(context).\(key) must be true or false, found \(v.typeName)") }
        return b
    }

    func index(_ key: String, _ context: String) throws -> Int {
        guard case .number(let t, true)? = self[key], let n = Int(t), n >= 0, n <= maxTokenId else {
            throw PrismError.tokenizerJSON("\(context).\(key) must be an integer id from 0 to \(maxTokenId), found \(self[key]?.brief ?? "nothing")")
        }
        return n
    }

    func array(_ key: String, _ context: String) throws -> [JSONValue] {
        guard case .array(let a)? = self[key] else {
            throw PrismError.tokenizerJSON("\(context).\(key) must be an array, found \(self[key]?.typeName ?? "nothing")")
        }
        return a
    }
}

/// Ids are bounded so that per-id tables stay small even for a hostile file; real vocabularies
/// are far below this (Gemma: 256000).
let maxTokenId = (1 << 24) - 1

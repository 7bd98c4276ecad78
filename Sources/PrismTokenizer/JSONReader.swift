import PrismSupport

/// A cursor over the bytes of a JSON document. The tokenizer loader walks the big `vocab` and
/// `merges` members with it directly into flat arrays (a generic tree of 750k Swift strings would
/// take seconds); small members become `JSONValue`s. Strings come out as UTF-8 bytes, never as
/// Swift `String`s, so canonically-equivalent keys stay distinct.
///
/// Every read checks `pos < count` itself: `base` is a raw pointer, whose subscript is never
/// bounds-checked (whatever the optimisation flags), so an out-of-range read on a malformed file
/// must be impossible, not merely trapped.
struct JSONReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    var pos = 0

    init(_ buffer: UnsafeBufferPointer<UInt8>) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { throw PrismError("tokenizer.json is empty") }
        if let bad = firstInvalidUTF8(buffer) {
            throw PrismError("tokenizer.json is not valid UTF-8 (byte \(bad))")
        }
        self.base = base
        self.count = buffer.count
        // A UTF-8 byte-order mark before the document is tolerated, as most readers do.
        if count >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF { pos = 3 }
    }

    func error(_ what: String) -> PrismError {
        PrismError.tokenizerJSON("\(what) at byte \(pos)")
    }

    mutating func skipSpace() {
        while pos < count {
            let c = base[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    /// The next non-space byte, not consumed; nil at the end of the input.
    mutating func peek() -> UInt8? {
        skipSpace()
        return pos < count ? base[pos] : nil
    }

    mutating func expect(_ c: UInt8) throws {
        guard peek() == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
        pos += 1
    }

    mutating func expectEnd() throws {
        guard peek() == nil else { throw error("unexpected data after the JSON document") }
    }

    /// Consumes `null` if it comes next.
    mutating func readNull() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= count else { throw error("truncated literal") }
        let w = word.utf8Start
        for i in 0..<n where base[pos + i] != w[i] { throw error("invalid literal") }
        pos += n
    }

    // MARK: Objects and arrays

    /// Iterates members: call with `first = true` after `expect("{")`; returns false after the
    /// closing brace. The member's key is left in `key` (appended to what it holds if
    /// `append`), the cursor on its value.
    mutating func nextMember(_ first: inout Bool, key: inout [UInt8], append: Bool = false) throws -> Bool {
        guard let c = peek() else { throw error("unterminated object") }
        if c == UInt8(ascii: "}") {
            pos += 1
            return false
        }
        if !first {
            guard c == UInt8(ascii: ",") else { throw error("expected ',' or '}' in object") }
            pos += 1
        }
        first = false
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a member name") }
        if !append { key.removeAll(keepingCapacity: true) }
        try readString(into: &key)
        try expect(UInt8(ascii: ":"))
        return true
    }

    /// Iterates elements: call with `first = true` after `expect("[")`; returns false after the
    /// closing bracket, else leaves the cursor on the next element.
    mutating func nextElement(_ first: inout Bool) throws -> Bool {
        guard let c = peek() else { throw error("unterminated array") }
        if c == UInt8(ascii: "]") {
            pos += 1
            return false
        }
        if !first {
            guard c == UInt8(ascii: ",") else { throw error("expected ',' or ']' in array") }
            pos += 1
            guard peek() != UInt8(ascii: "]") else { throw error("trailing comma in array") }
        }
        first = false
        return true
    }

    // MARK: Strings

    /// Reads a string literal, appending its decoded UTF-8 bytes to `out`.
    mutating func readString(into out: inout [UInt8]) throws {
        try expect(UInt8(ascii: "\""))
        while true {
            // Copy the plain run in one go: most strings have no escapes.
            let start = pos
            while pos < count {
                let c = base[pos]
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                pos += 1
            }
            if pos > start { out.append(contentsOf: UnsafeBufferPointer(start: base + start, count: pos - start)) }
            guard pos < count else { throw error("unterminated string") }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return
            }
            guard c == UInt8(ascii: "\\") else { throw error("control character in string") }
            pos += 1
            guard pos < count else { throw error("unterminated escape") }
            let e = base[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"): try appendScalar(readUnicodeEscape(), to: &out)
            default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uDC00`-`\uDFFF` that must
    /// follow it. A lone surrogate is an error, as in serde_json.
    private mutating func readUnicodeEscape() throws -> UInt32 {
        let first = try readHex4()
        if first >= 0xDC00 && first <= 0xDFFF { throw error("lone low surrogate in \\u escape") }
        guard first >= 0xD800 && first <= 0xDBFF else { return first }
        guard pos + 2 <= count, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") else {
            throw error("lone high surrogate in \\u escape")
        }
        pos += 2
        let second = try readHex4()
        guard second >= 0xDC00 && second <= 0xDFFF else { throw error("high surrogate not followed by a low one") }
        return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
    }

    private mutating func readHex4() throws -> UInt32 {
        guard pos + 4 <= count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexValue(base[pos]) else { throw error("invalid hex digit in \\u escape") }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    private func appendScalar(_ v: UInt32, to out: inout [UInt8]) throws {
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | (v >> 12) & 0x3F))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    // MARK: Numbers

    /// Reads a number and returns its text; `isInteger` is false if it has a fraction or exponent.
    mutating func readNumber() throws -> (text: String, isInteger: Bool) {
        skipSpace()
        let start = pos
        var isInteger = true
        if pos < count, base[pos] == UInt8(ascii: "-") { pos += 1 }
        let intStart = pos
        while pos < count, isDigit(base[pos]) { pos += 1 }
        guard pos > intStart else { throw error("invalid number") }
        if base[intStart] == UInt8(ascii: "0"), pos - intStart > 1 { throw error("number with a leading zero") }
        if pos < count, base[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            let f = pos
            while pos < count, isDigit(base[pos]) { pos += 1 }
            guard pos > f else { throw error("invalid number") }
        }
        if pos < count, base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < count, base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") { pos += 1 }
            let e = pos
            while pos < count, isDigit(base[pos]) { pos += 1 }
            guard pos > e else { throw error("invalid number") }
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
        return (text, isInteger)
    }

    /// Reads a non-negative integer no larger than `limit` (ids, which HF reads as u32).
    mutating func readIndex(limit: Int, what: String) throws -> Int {
        skipSpace()
        let start = pos
        var v = 0
        while pos < count, isDigit(base[pos]) {
            v = v * 10 + Int(base[pos] - UInt8(ascii: "0"))
            guard v <= limit else { throw error("\(what) is larger than \(limit)") }
            pos += 1
        }
        guard pos > start else { throw error("\(what) must be a non-negative integer") }
        if base[start] == UInt8(ascii: "0"), pos - start > 1 { throw error("number with a leading zero") }
        if pos < count, base[pos] == UInt8(ascii: ".") || base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") {
            throw error("\(what) must be an integer")
        }
        return v
    }

    // MARK: The vocabulary

    /// `{"token": id, ...}` straight into one byte buffer: entry e is
    /// `bytes[starts[e]..<starts[e + 1]]`, with the id `ids[e]`.
    mutating func readVocab() throws -> (bytes: [UInt8], starts: [Int], ids: [Int32]) {
        guard peek() == UInt8(ascii: "{") else { throw error("model.vocab must be an object") }
        pos += 1
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count / 2)
        var starts = [0]
        var ids: [Int32] = []
        var first = true
        while try nextMember(&first, key: &bytes, append: true) {
            starts.append(bytes.count)
            ids.append(Int32(try readIndex(limit: maxTokenId, what: "a vocab id")))
        }
        return (bytes, starts, ids)
    }

    // MARK: Generic values

    /// Reads any value into a tree. Only for the small members of the file.
    mutating func readValue(depth: Int = 0) throws -> JSONValue {
        guard depth < 64 else { throw error("nesting too deep") }
        guard let c = peek() else { throw error("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [(key: [UInt8], value: JSONValue)] = []
            var first = true
            var key: [UInt8] = []
            while try nextMember(&first, key: &key) {
                members.append((key, try readValue(depth: depth + 1)))
            }
            return .object(members)
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONValue] = []
            var first = true
            while try nextElement(&first) { items.append(try readValue(depth: depth + 1)) }
            return .array(items)
        case UInt8(ascii: "\""):
            var s: [UInt8] = []
            try readString(into: &s)
            return .string(s)
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            let n = try readNumber()
            return .number(n.text, isInteger: n.isInteger)
        }
    }
}

extension JSONReader {
    /// Walks over any value, checking it as `readValue` does but keeping nothing: for the members
    /// a reader does not need (the 256k merges when only the vocabulary is wanted).
    mutating func skipValue(depth: Int = 0) throws {
        var scratch: [UInt8] = []
        try skipValue(depth: depth, scratch: &scratch)
    }

    private mutating func skipValue(depth: Int, scratch: inout [UInt8]) throws {
        guard depth < 64 else { throw error("nesting too deep") }
        guard let c = peek() else { throw error("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"):
            pos += 1
            var first = true
            while try nextMember(&first, key: &scratch) { try skipValue(depth: depth + 1, scratch: &scratch) }
        case UInt8(ascii: "["):
            pos += 1
            var first = true
            while try nextElement(&first) { try skipValue(depth: depth + 1, scratch: &scratch) }
        case UInt8(ascii: "\""):
            scratch.removeAll(keepingCapacity: true)
            try readString(into: &scratch)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try readNumber()
        }
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

@inline(__always) func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x41 + 10
    case 0x61...0x66: return c - 0x61 + 10
    default: return nil
    }
}

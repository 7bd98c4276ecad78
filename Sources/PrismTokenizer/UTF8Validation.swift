/// Strict UTF-8 validation, as Rust's `String::from_utf8` (no overlong forms, no surrogates,
/// nothing above U+10FFFF). Hugging Face's ByteFallback decoder uses exactly that test.

/// The offset of the first byte that starts an invalid sequence, or nil if all is valid.
func firstInvalidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
    guard let p = b.baseAddress else { return nil }
    let n = b.count
    var i = 0
    while i < n {
        // ASCII fast path, eight bytes at a time.
        if i + 8 <= n, UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
            i += 8
            continue
        }
        let len = utf8SequenceLength(p + i, n - i)
        if len == 0 { return i }
        i += len
    }
    return nil
}

func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { firstInvalidUTF8($0) == nil }
}

/// The length of the valid sequence starting at `p` (of `available` bytes), or 0 if invalid.
@inline(__always)
private func utf8SequenceLength(_ p: UnsafePointer<UInt8>, _ available: Int) -> Int {
    let b0 = p[0]
    if b0 < 0x80 { return 1 }
    @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
        k < available && p[k] >= lo && p[k] <= hi
    }
    switch b0 {
    case 0xC2...0xDF: return cont(1) ? 2 : 0
    case 0xE0: return cont(1, 0xA0) && cont(2) ? 3 : 0
    case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
    case 0xED: return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
    case 0xF0: return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
    case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
    case 0xF4: return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
    default: return 0
    }
}

/// The length of the UTF-8 sequence a lead byte starts, for text already known to be valid.
@inline(__always)
func utf8LeadLength(_ b: UInt8) -> Int {
    if b < 0x80 { return 1 }
    if b < 0xE0 { return 2 }
    if b < 0xF0 { return 3 }
    return 4
}

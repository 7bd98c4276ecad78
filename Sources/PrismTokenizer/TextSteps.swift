/// The normalizer and decoder steps this loader implements (the ones Gemma's file uses).

/// HF `Replace` with a string pattern: every non-overlapping occurrence, left to right.
struct Replacement {
    let pattern: [UInt8]
    let content: [UInt8]

    /// Appends `input` with the replacements made to `out`. Byte-wise search is scalar-exact:
    /// the pattern is valid UTF-8, and UTF-8 cannot match at a position inside a scalar.
    func apply(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let n = input.count, m = pattern.count
        guard m > 0, n >= m else {
            out.append(contentsOf: input)
            return
        }
        let first = pattern[0]
        var plain = 0
        var i = 0
        while i <= n - m {
            if input[i] == first && (m == 1 || matchesRest(input, i)) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: input[plain..<i]))
                out.append(contentsOf: content)
                i += m
                plain = i
            } else {
                i += 1
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: input[plain..<n]))
    }

    @inline(__always) private func matchesRest(_ input: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        for k in 1..<pattern.count where input[i + k] != pattern[k] { return false }
        return true
    }

    func apply(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        input.withUnsafeBufferPointer { apply($0, into: &out) }
        return out
    }
}

/// A normalizer: a sequence of replacements (Gemma: " " -> "▁"); empty means none.
struct Normalizer {
    let steps: [Replacement]

    func apply(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var current: [UInt8] = []
        current.reserveCapacity(input.count + input.count / 2)
        guard let first = steps.first else {
            current.append(contentsOf: input)
            return current
        }
        first.apply(input, into: &current)
        for step in steps.dropFirst() { current = step.apply(current) }
        return current
    }
}

/// A list of token strings in one flat buffer: token i is bytes[ends[i - 1]..<ends[i]]. Decoder
/// steps map one list to another without an allocation per token, and HF's final
/// `join("")` is just `bytes`.
struct TokenList {
    var bytes: [UInt8] = []
    var ends: [Int] = []

    var count: Int { ends.count }

    mutating func close() { ends.append(bytes.count) }

    func range(_ i: Int) -> Range<Int> { (i == 0 ? 0 : ends[i - 1])..<ends[i] }
}

/// A decoder step of HF's `decode_chain`, each mapping a list of token strings to another.
enum DecoderStep {
    case replace(Replacement)
    case byteFallback
    case fuse

    func apply(_ tokens: TokenList) -> TokenList {
        switch self {
        case .replace(let r):
            var out = TokenList()
            out.bytes.reserveCapacity(tokens.bytes.count)
            out.ends.reserveCapacity(tokens.count)
            tokens.bytes.withUnsafeBufferPointer { all in
                for i in 0..<tokens.count {
                    r.apply(UnsafeBufferPointer(rebasing: all[tokens.range(i)]), into: &out.bytes)
                    out.close()
                }
            }
            return out
        case .fuse:
            return TokenList(bytes: tokens.bytes, ends: tokens.count == 0 ? [0] : [tokens.bytes.count])
        case .byteFallback:
            return DecoderStep.byteFallback(tokens)
        }
    }

    /// HF's ByteFallback: runs of `<0xNN>` tokens become their bytes if those form valid UTF-8,
    /// else one U+FFFD per byte of the run. A run ends at any other token or at the end.
    private static func byteFallback(_ tokens: TokenList) -> TokenList {
        var out = TokenList()
        out.bytes.reserveCapacity(tokens.bytes.count)
        out.ends.reserveCapacity(tokens.count)
        var run: [UInt8] = []
        func flush() {
            guard !run.isEmpty else { return }
            if isValidUTF8(run) {
                out.bytes.append(contentsOf: run)
                out.close()
            } else {
                for _ in run {
                    out.bytes.append(contentsOf: replacementCharacter)
                    out.close()
                }
            }
            run.removeAll(keepingCapacity: true)
        }
        tokens.bytes.withUnsafeBufferPointer { all in
            for i in 0..<tokens.count {
                let t = UnsafeBufferPointer(rebasing: all[tokens.range(i)])
                if let b = byteTokenValue(t) {
                    run.append(b)
                } else {
                    flush()
                    out.bytes.append(contentsOf: t)
                    out.close()
                }
            }
        }
        flush()
        return out
    }
}

private let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

/// The byte a token like `<0x41>` stands for, by HF's test: six bytes, `<0x` ... `>`, and the
/// middle two parsed by Rust's `u8::from_str_radix(_, 16)`, which takes either case and an
/// optional leading '+'.
func byteTokenValue(_ t: UnsafeBufferPointer<UInt8>) -> UInt8? {
    guard t.count == 6, t[0] == UInt8(ascii: "<"), t[1] == UInt8(ascii: "0"), t[2] == UInt8(ascii: "x"),
        t[5] == UInt8(ascii: ">")
    else { return nil }
    if t[3] == UInt8(ascii: "+") { return hexValue(t[4]) }
    guard let hi = hexValue(t[3]), let lo = hexValue(t[4]) else { return nil }
    return hi << 4 | lo
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-string keys to ids, stored flat: one byte buffer, one offsets array and an open-addressing
/// index. Keys are compared as bytes, never as Swift `String`s (which would merge "é" with
/// "e" + U+0301).
struct PieceTable {
    let bytes: [UInt8]
    let starts: [Int]
    let ids: [Int32]
    private var slots: [UInt64] = []
    private var shift: UInt64 = 63

    var count: Int { ids.count }

    /// Entry `i` is `bytes[starts[i]..<starts[i + 1]]` with id `ids[i]`; `starts` has one more
    /// element than `ids`. Call `buildIndex` before looking anything up.
    init(bytes: [UInt8], starts: [Int], ids: [Int32]) {
        self.bytes = bytes
        self.starts = starts
        self.ids = ids
    }

    func entry(_ i: Int) -> ArraySlice<UInt8> { bytes[starts[i]..<starts[i + 1]] }

    /// Builds the index; returns the index of an entry whose key repeats an earlier one, if any.
    mutating func buildIndex() -> Int? {
        var capacity = 16
        while capacity < ids.count * 2 { capacity <<= 1 }
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        slots = [UInt64](repeating: PieceTable.empty, count: capacity)
        let mask = capacity - 1
        var duplicate: Int?
        bytes.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return }
            for e in 0..<ids.count where duplicate == nil {
                let p = base + starts[e], n = starts[e + 1] - starts[e]
                let h = hashBytes(p, n)
                var s = Int(truncatingIfNeeded: h >> shift)
                while slots[s] != PieceTable.empty {
                    let o = Int(truncatingIfNeeded: slots[s] & 0xFFFF_FFFF)
                    if starts[o + 1] - starts[o] == n, memcmp(base + starts[o], p, n) == 0 {
                        duplicate = e
                        break
                    }
                    s = (s + 1) & mask
                }
                if duplicate == nil { slots[s] = PieceTable.tag(h) | UInt64(e) }
            }
        }
        return duplicate
    }

    /// A slot holds the low 32 bits of the key's hash over the entry index, so that most
    /// mismatches are rejected without touching the key's bytes.
    private static let empty = UInt64.max
    @inline(__always) private static func tag(_ h: UInt64) -> UInt64 { h << 32 }

    /// The id stored for these bytes, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let mask = slots.count - 1
        let h = hashBytes(p, n)
        let tag = PieceTable.tag(h)
        var s = Int(truncatingIfNeeded: h >> shift)
        return bytes.withUnsafeBufferPointer { all -> Int32 in
            guard let base = all.baseAddress else { return -1 }
            while true {
                let slot = slots[s]
                if slot == PieceTable.empty { return -1 }
                if slot & 0xFFFF_FFFF_0000_0000 == tag {
                    let e = Int(truncatingIfNeeded: slot & 0xFFFF_FFFF)
                    if starts[e + 1] - starts[e] == n, memcmp(base + starts[e], p, n) == 0 { return ids[e] }
                }
                s = (s + 1) & mask
            }
        }
    }

    func lookup(_ key: [UInt8]) -> Int32 {
        key.withUnsafeBufferPointer { b in
            guard let p = b.baseAddress else { return emptyKeyId() }
            return lookup(p, b.count)
        }
    }

    /// Lookup of the empty string (possible in a vocabulary, if useless).
    private func emptyKeyId() -> Int32 {
        var zero: UInt8 = 0
        return lookup(&zero, 0)
    }
}

/// UInt64 keys (a pair of 32-bit ids) to UInt64 values, open addressing, key and value side by
/// side so that a lookup touches one cache line. Inserting an existing key overwrites it, as
/// Rust's `collect()` into a HashMap does for repeated merges.
struct PairTable {
    static let absent = UInt64.max
    /// slots[2s] is a key (or `absent`), slots[2s + 1] its value.
    private var slots: [UInt64]
    private var shift: UInt64
    private var mask: Int
    private(set) var count = 0

    init(expected: Int) {
        var capacity = 16
        while capacity < expected * 2 { capacity <<= 1 }
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        mask = capacity - 1
        slots = [UInt64](repeating: PairTable.absent, count: 2 * capacity)
    }

    @inline(__always) static func key(_ a: UInt32, _ b: UInt32) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    @inline(__always) private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Keys must not be `absent`; the caller's ids are below 2^24. The table doubles when half
    /// full, so `expected` need only be a guess.
    mutating func insert(_ key: UInt64, _ value: UInt64) {
        if 2 * (count + 1) > mask + 1 { grow() }
        var s = slot(key)
        while slots[2 * s] != PairTable.absent && slots[2 * s] != key { s = (s + 1) & mask }
        if slots[2 * s] == PairTable.absent { count += 1 }
        slots[2 * s] = key
        slots[2 * s + 1] = value
    }

    private mutating func grow() {
        let old = slots
        let capacity = 2 * (mask + 1)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        mask = capacity - 1
        slots = [UInt64](repeating: PairTable.absent, count: 2 * capacity)
        count = 0
        for s in stride(from: 0, to: old.count, by: 2) where old[s] != PairTable.absent { insert(old[s], old[s + 1]) }
    }

    /// The value for `key`, or `absent`.
    @inline(__always)
    func find(_ key: UInt64) -> UInt64 {
        var s = slot(key)
        return slots.withUnsafeBufferPointer { t in
            while true {
                let k = t[2 * s]
                if k == key { return t[2 * s + 1] }
                if k == PairTable.absent { return PairTable.absent }
                s = (s + 1) & mask
            }
        }
    }
}

/// A fast non-cryptographic hash of a byte string (8 bytes per step).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    var i = 0
    while i + 8 <= n {
        let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
        h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
        i += 8
    }
    var tail: UInt64 = 0
    var s: UInt64 = 0
    while i < n {
        tail |= UInt64(p[i]) << s
        s += 8
        i += 1
    }
    h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
    h ^= h >> 32
    h = h &* 0x9E37_79B9_7F4A_7C15
    return h ^ (h >> 29)
}

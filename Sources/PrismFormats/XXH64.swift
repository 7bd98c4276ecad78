/// XXH64 (Yann Collet's xxHash, 64-bit), the checksum of the converted model file and the
/// activation store: several GB/s, so `prism verify` can afford to check every byte.
public struct XXH64 {
    static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var v1, v2, v3, v4: UInt64
    private let seed: UInt64
    private var total: UInt64 = 0
    private var buffer = [UInt8](repeating: 0, count: 32)
    private var buffered = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ Self.p1 &+ Self.p2
        v2 = seed &+ Self.p2
        v3 = seed
        v4 = seed &- Self.p1
    }

    @inline(__always) static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        var a = acc &+ input &* p2
        a = (a << 31) | (a >> 33)
        return a &* p1
    }

    @inline(__always) static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        var a = acc ^ round(0, v)
        a = a &* p1 &+ p4
        return a
    }

    @inline(__always) mutating func stripes(_ p: UnsafeRawPointer, _ count: Int) {
        var i = 0
        while i + 32 <= count {
            v1 = Self.round(v1, p.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
            v2 = Self.round(v2, p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self).littleEndian)
            v3 = Self.round(v3, p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self).littleEndian)
            v4 = Self.round(v4, p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self).littleEndian)
            i += 32
        }
    }

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, data.count > 0 else { return }
        total &+= UInt64(data.count)
        var p = base
        var n = data.count
        if buffered > 0 {
            let take = min(32 - buffered, n)
            buffer.withUnsafeMutableBytes { b in (b.baseAddress! + buffered).copyMemory(from: p, byteCount: take) }
            buffered += take
            p += take
            n -= take
            if buffered < 32 { return }
            buffer.withUnsafeBytes { b in stripes(b.baseAddress!, 32) }
            buffered = 0
        }
        let whole = n & ~31
        stripes(p, whole)
        p += whole
        n -= whole
        if n > 0 {
            buffer.withUnsafeMutableBytes { b in b.baseAddress!.copyMemory(from: p, byteCount: n) }
            buffered = n
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public func finalize() -> UInt64 {
        var h: UInt64
        if total >= 32 {
            h = ((v1 << 1) | (v1 >> 63)) &+ ((v2 << 7) | (v2 >> 57)) &+ ((v3 << 12) | (v3 >> 52)) &+ ((v4 << 18) | (v4 >> 46))
            h = Self.merge(h, v1); h = Self.merge(h, v2); h = Self.merge(h, v3); h = Self.merge(h, v4)
        } else {
            h = seed &+ Self.p5
        }
        h &+= total
        buffer.withUnsafeBytes { b in
            let p = b.baseAddress!
            var i = 0
            while i + 8 <= buffered {
                let k = Self.round(0, p.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
                h ^= k
                h = ((h << 27) | (h >> 37)) &* Self.p1 &+ Self.p4
                i += 8
            }
            if i + 4 <= buffered {
                h ^= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian) &* Self.p1
                h = ((h << 23) | (h >> 41)) &* Self.p2 &+ Self.p3
                i += 4
            }
            while i < buffered {
                h ^= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) &* Self.p5
                h = ((h << 11) | (h >> 53)) &* Self.p1
                i += 1
            }
        }
        h ^= h >> 33
        h = h &* Self.p2
        h ^= h >> 29
        h = h &* Self.p3
        h ^= h >> 32
        return h
    }

    public static func hash(_ data: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var x = XXH64(seed: seed)
        x.update(data)
        return x.finalize()
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    /// 16 lowercase hex digits, as stored in the file's directory.
    public static func hex(_ h: UInt64) -> String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// The k-quants: super-blocks of 256 elements in sub-blocks of 16 or 32, each sub-block with its
/// own quantized scale (and min) relative to the super-block's f16 `d` (and `dmin`).
/// Elements are laid out in 128-element halves; within a half, consecutive 32-element groups
/// take successive bit fields of the same 32 (or 64) bytes.
extension GGMLDequantize {
    /// Q2_K (84 bytes): 16 bytes of scales (low nibble: scale, high: min, per 16 elements),
    /// 64 bytes of 2-bit quants, f16 d, f16 dmin. x = (d * sc) * q - dmin * m.
    @inline(__always) static func q2_K(_ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let scales = p, qs = p + 16
        let d = half(p, 80), dmin = half(p, 82)
        for h in 0..<2 {
            for shift in 0..<4 {
                for l in 0..<32 {
                    let e = h * 128 + shift * 32 + l
                    let sc = scales[e / 16]
                    let dl = d * Float(sc & 15), ml = dmin * Float(sc >> 4)
                    let q = (qs[h * 32 + l] >> (2 * shift)) & 3
                    out[e] = dl * Float(q) - ml
                }
            }
        }
    }

    /// Q3_K (110 bytes): 32 bytes of high-bit mask, 64 bytes of 2-bit low quants, 12 bytes of
    /// sixteen 6-bit scales (offset 32), f16 d. q = low - 4 when the element's mask bit is clear.
    @inline(__always) static func q3_K(_ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let hmask = p, qs = p + 32, s = p + 96
        let d = half(p, 108)
        // Scale i: low 4 bits from byte i (i < 8) or the high nibble of byte i - 8; high 2 bits
        // from byte 8 + i % 4 at bit 2 * (i / 4).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { f in
            for i in 0..<16 {
                let lo = i < 8 ? s[i] & 15 : s[i - 8] >> 4
                let hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3
                f[i] = d * Float(Int32(lo | hi << 4) - 32)
            }
            for h in 0..<2 {
                for shift in 0..<4 {
                    let bit = h * 4 + shift
                    for l in 0..<32 {
                        let e = h * 128 + shift * 32 + l
                        let low = Int32((qs[h * 32 + l] >> (2 * shift)) & 3)
                        let q = (hmask[l] >> bit) & 1 == 1 ? low : low - 4
                        out[e] = f[e / 16] * Float(q)
                    }
                }
            }
        }
    }

    /// Q4_K (144 bytes) / Q5_K (176 bytes): f16 d, f16 dmin, 12 bytes of eight 6-bit scales and
    /// eight 6-bit mins (one pair per 32 elements), [Q5_K: 32 bytes of fifth bits, bit j of byte l
    /// for element 32 j + l], 128 bytes of nibbles. x = (d * sc) * q - dmin * m.
    @inline(__always) static func q45_K(_ p: UnsafePointer<UInt8>, highBits: Bool, _ out: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let s = p + 4
        let qh = p + 16
        let qs = p + (highBits ? 48 : 16)
        for sub in 0..<8 {
            // Sub-blocks 0-3: low 6 bits of bytes 0-3 (scale) and 4-7 (min); 4-7: a nibble of
            // bytes 8-11 and the top 2 bits of bytes 0-3 (scale) or 4-7 (min).
            let sc: UInt8, m: UInt8
            if sub < 4 {
                sc = s[sub] & 63
                m = s[sub + 4] & 63
            } else {
                sc = (s[sub + 4] & 15) | (s[sub - 4] >> 6) << 4
                m = (s[sub + 4] >> 4) | (s[sub] >> 6) << 4
            }
            let ds = d * Float(sc), dm = dmin * Float(m)
            let byte = (sub / 2) * 32, shift = UInt8((sub % 2) * 4)
            for l in 0..<32 {
                var q = (qs[byte + l] >> shift) & 15
                if highBits { q |= ((qh[l] >> sub) & 1) << 4 }
                out[sub * 32 + l] = ds * Float(q) - dm
            }
        }
    }

    /// Q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 int8
    /// scales (per 16 elements), f16 d. x = (d * sc) * (q - 32).
    @inline(__always) static func q6_K(_ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let ql = p, qh = p + 128, scales = p + 192
        let d = half(p, 208)
        for h in 0..<2 {
            for r in 0..<128 {
                let e = h * 128 + r
                let low = (ql[h * 64 + r % 64] >> (4 * (r / 64))) & 15
                let high = (qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3
                let q = Int32(low | high << 4) - 32
                let sc = d * Float(Int8(bitPattern: scales[e / 16]))
                out[e] = sc * Float(q)
            }
        }
    }
}

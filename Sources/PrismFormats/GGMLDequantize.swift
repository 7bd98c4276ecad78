import Foundation
import PrismSupport

/// ggml blocks to f32, for the types Gemma GGUFs use: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
/// Q5_1 and the k-quants Q2_K to Q6_K. The block layouts are ggml-common.h's; each value is
/// computed with the same f32 operations in the same order as ggml's reference dequantizer and
/// the `gguf` Python package (`d * q`, `d * q + m`, `(d * sc) * q - dmin * m`, no fused
/// multiply-add), so the results are bit-identical to theirs.
public enum GGMLDequantize {
    /// Dequantizes `elements` consecutive values of `type` (whole blocks: a multiple of
    /// `type.blockSize`) read from `bytes` (`elements / blockSize * typeSize` bytes, any alignment)
    /// into `out` (`elements` floats).
    /// - Throws: `PrismError` for a type it cannot dequantize or a partial block.
    public static func rows(_ type: GGMLType, _ bytes: UnsafeRawPointer, elements: Int, into out: UnsafeMutablePointer<Float>) throws {
        guard type.canDequantize else { throw PrismError("ggml type \(type) is not supported") }
        guard elements >= 0, elements % type.blockSize == 0 else {
            throw PrismError("\(elements) elements is not a whole number of \(type) blocks of \(type.blockSize)")
        }
        let src = bytes.assumingMemoryBound(to: UInt8.self)
        let blocks = elements / type.blockSize
        let step = type.typeSize
        switch type {
        case .F32: memcpy(out, bytes, elements * 4)
        case .F16: for i in 0..<elements { out[i] = half(src, 2 * i) }
        case .BF16: for i in 0..<elements { out[i] = Float(bitPattern: UInt32(u16(src, 2 * i)) << 16) }
        case .Q8_0, .Q4_0, .Q5_0: for b in 0..<blocks { symmetric(type, src + b * step, out + b * 32) }
        case .Q4_1: for b in 0..<blocks { q4_1(src + b * step, out + b * 32) }
        case .Q5_1: for b in 0..<blocks { q5_1(src + b * step, out + b * 32) }
        case .Q2_K: for b in 0..<blocks { q2_K(src + b * step, out + b * 256) }
        case .Q3_K: for b in 0..<blocks { q3_K(src + b * step, out + b * 256) }
        case .Q4_K: for b in 0..<blocks { q45_K(src + b * step, highBits: false, out + b * 256) }
        case .Q5_K: for b in 0..<blocks { q45_K(src + b * step, highBits: true, out + b * 256) }
        case .Q6_K: for b in 0..<blocks { q6_K(src + b * step, out + b * 256) }
        default: throw PrismError("ggml type \(type) is not supported")
        }
    }

    // MARK: - scalars

    @inline(__always) static func u16(_ p: UnsafePointer<UInt8>, _ o: Int) -> UInt16 { UInt16(p[o]) | UInt16(p[o + 1]) << 8 }

    /// IEEE half (little-endian at `p + o`) to f32, exactly; NaN payloads carried as numpy and ggml carry them.
    @inline(__always) static func half(_ p: UnsafePointer<UInt8>, _ o: Int) -> Float { halfToFloat(u16(p, o)) }

    @inline(__always) public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = h & 0x7c00, man = UInt32(h & 0x03ff)
        if exp == 0x7c00 { return Float(bitPattern: sign | 0x7f80_0000 | man << 13) }  // inf, NaN
        if exp == 0 {  // zero or subnormal: man * 2^-24 is exact in f32
            let m = Float(man) * 0x1p-24
            return sign == 0 ? m : -m
        }
        return Float(bitPattern: sign | ((UInt32(h & 0x7fff) << 13) + (112 << 23)))  // rebias 15 -> 127
    }

    // MARK: - 32-element blocks

    /// The 32 integers `q` of a Q8_0, Q5_0 or Q4_0 block, whose values are `x = d q` with `d` the
    /// f16 at the block's start: Q8_0 32 x int8; Q4_0 16 bytes of nibbles (low nibbles are
    /// elements 0-15, high 16-31), less 8; Q5_0 a uint32 of fifth bits (bit j for element j),
    /// nibbles as Q4_0, less 16. (The converter carries them into int8 as they are.)
    public static func blockIntegers(_ type: GGMLType, _ p: UnsafePointer<UInt8>, into q: UnsafeMutablePointer<Int8>) {
        switch type {
        case .Q4_0:
            for j in 0..<16 {
                q[j] = Int8(Int(p[2 + j] & 15) - 8)
                q[j + 16] = Int8(Int(p[2 + j] >> 4) - 8)
            }
        case .Q5_0:
            let qh = UInt32(u16(p, 2)) | UInt32(u16(p, 4)) << 16
            for j in 0..<16 {
                let lo = Int(p[6 + j] & 15) | Int((qh >> UInt32(j)) & 1) << 4
                let hi = Int(p[6 + j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                q[j] = Int8(lo - 16)
                q[j + 16] = Int8(hi - 16)
            }
        default:  // Q8_0
            for j in 0..<32 { q[j] = Int8(bitPattern: p[2 + j]) }
        }
    }

    /// Q8_0, Q5_0, Q4_0: `x = d q` over `blockIntegers`.
    @inline(__always) static func symmetric(_ type: GGMLType, _ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            guard let base = q.baseAddress else { return }
            blockIntegers(type, p, into: base)
            for j in 0..<32 { out[j] = d * Float(base[j]) }
        }
    }

    /// Q4_1: f16 d, f16 m, nibbles as Q4_0; x = d * q + m.
    @inline(__always) static func q4_1(_ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        for j in 0..<16 {
            let x = p[4 + j]
            out[j] = d * Float(x & 15) + m
            out[j + 16] = d * Float(x >> 4) + m
        }
    }

    /// Q5_1: f16 d, f16 m, a uint32 of fifth bits (bit j for element j), nibbles as Q4_0;
    /// x = d * q + m.
    @inline(__always) static func q5_1(_ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        let qh = UInt32(u16(p, 4)) | UInt32(u16(p, 6)) << 16
        let qs = p + 8
        for j in 0..<16 {
            let lo = UInt32(qs[j] & 15) | ((qh >> j) & 1) << 4
            let hi = UInt32(qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4
            out[j] = d * Float(lo) + m
            out[j + 16] = d * Float(hi) + m
        }
    }
}

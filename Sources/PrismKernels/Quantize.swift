/// Symmetric int8 block quantization along the input dimension: each run of `blockSize`
/// consecutive inputs of a row shares one f16 scale `max|w| / 127`; the quants are computed
/// against the f16-rounded scale, so dequantizing reproduces exactly what was measured.
public enum Quantize {
    public struct ErrorStats {
        public var sumSquaredError: Double = 0
        public var sumSquared: Double = 0
        public var maxAbs: Double = 0
        public var count = 0
        public init() {}
        public var rmse: Double { count == 0 ? 0 : (sumSquaredError / Double(count)).squareRoot() }
        public var relRMSE: Double { sumSquared == 0 ? 0 : (sumSquaredError / sumSquared).squareRoot() }
    }

    /// Quantizes one row of `cols` values; the last block may be partial.
    public static func row(_ x: UnsafePointer<Float>, cols: Int, blockSize: Int,
                           quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<UInt16>, stats: inout ErrorStats) {
        var b = 0
        var c0 = 0
        while c0 < cols {
            let c1 = min(cols, c0 + blockSize)
            var amax: Float = 0
            for c in c0..<c1 { amax = max(amax, abs(x[c])) }
            let scale16 = Float16(amax / 127)
            let scale = Float(scale16)
            scales[b] = scale16.bitPattern
            let inv: Float = scale > 0 ? 1 / scale : 0
            for c in c0..<c1 {
                let q = max(-127, min(127, (x[c] * inv).rounded()))
                quants[c] = Int8(q)
                let err = Double(x[c]) - Double(q * scale)
                stats.sumSquaredError += err * err
                stats.sumSquared += Double(x[c]) * Double(x[c])
                stats.maxAbs = max(stats.maxAbs, abs(err))
            }
            stats.count += c1 - c0
            c0 = c1
            b += 1
        }
    }

    /// f32 to bf16 with round-to-nearest-even (NaN kept quiet), as PyTorch rounds.
    @inlinable
    public static func bf16(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}

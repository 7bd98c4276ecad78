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

        /// Adds the statistics of rows quantized elsewhere (another thread, another tensor).
        public mutating func merge(_ o: ErrorStats) {
            sumSquaredError += o.sumSquaredError
            sumSquared += o.sumSquared
            maxAbs = max(maxAbs, o.maxAbs)
            count += o.count
        }
    }

    /// Quantizes one row of `cols` values; the last block may be partial.
    public static func row(_ x: UnsafePointer<Float>, cols: Int, blockSize: Int,
                           quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<UInt16>, stats: inout ErrorStats) {
        var b = 0
        var c0 = 0
        // Per-row sums in Float SIMD lanes, folded into the Double totals once per row.
        var sqErr = SIMD16<Float>(), sq = SIMD16<Float>(), maxErr = SIMD16<Float>()
        while c0 < cols {
            let n = min(blockSize, cols - c0)
            let xb = x + c0, qb = quants + c0
            if n % 16 == 0 {
                var amax = SIMD16<Float>()
                var i = 0
                while i < n {
                    let v = UnsafeRawPointer(xb + i).loadUnaligned(as: SIMD16<Float>.self)
                    amax = pointwiseMax(amax, pointwiseMax(v, -v))
                    i += 16
                }
                let scale16 = Float16(amax.max() / 127)
                let scale = Float(scale16)
                scales[b] = scale16.bitPattern
                let inv: Float = scale > 0 ? 1 / scale : 0
                i = 0
                while i < n {
                    let v = UnsafeRawPointer(xb + i).loadUnaligned(as: SIMD16<Float>.self)
                    var q = (v * inv).rounded(.toNearestOrEven)
                    q = pointwiseMin(pointwiseMax(q, SIMD16(repeating: -127)), SIMD16(repeating: 127))
                    UnsafeMutableRawPointer(qb + i).storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: SIMD16<Int32>(q)), as: SIMD16<Int8>.self)
                    let err = v - q * scale
                    sqErr += err * err
                    sq += v * v
                    maxErr = pointwiseMax(maxErr, pointwiseMax(err, -err))
                    i += 16
                }
            } else {
                var amax: Float = 0
                for c in 0..<n { amax = max(amax, abs(xb[c])) }
                let scale16 = Float16(amax / 127)
                let scale = Float(scale16)
                scales[b] = scale16.bitPattern
                let inv: Float = scale > 0 ? 1 / scale : 0
                for c in 0..<n {
                    let q = max(-127, min(127, (xb[c] * inv).rounded(.toNearestOrEven)))
                    qb[c] = Int8(q)
                    let err = xb[c] - q * scale
                    sqErr[0] += err * err
                    sq[0] += xb[c] * xb[c]
                    maxErr[0] = max(maxErr[0], abs(err))
                }
            }
            c0 += n
            b += 1
        }
        stats.sumSquaredError += Double(sqErr.sum())
        stats.sumSquared += Double(sq.sum())
        stats.maxAbs = max(stats.maxAbs, Double(maxErr.max()))
        stats.count += cols
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

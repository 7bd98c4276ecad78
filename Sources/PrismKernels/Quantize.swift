import CPrismKernels

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
        var st: (Double, Double, Double) = (0, 0, 0)
        withUnsafeMutableBytes(of: &st) { raw in
            prism_quantize_weight_row(x, Int32(cols), Int32(blockSize), quants, scales, raw.baseAddress!.assumingMemoryBound(to: Double.self))
        }
        stats.sumSquaredError += st.0
        stats.sumSquared += st.1
        stats.maxAbs = max(stats.maxAbs, st.2)
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

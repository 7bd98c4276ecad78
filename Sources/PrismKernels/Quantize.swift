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

    /// The largest f16 value: a block's scale `max|w| / 127` must not exceed it, so int8 can hold
    /// weights up to about 127 * 65504 = 8.3e6 in magnitude.
    public static let largestScale: Float = 65504

    /// Quantizes one row of `cols` finite values; the last block may be partial.
    /// - Returns: how many blocks had `max|w| / 127` beyond f16's range (`largestScale`). Their
    ///   scale is clamped to `largestScale` (never inf), so their largest values are clipped:
    ///   a caller that wants them exact must store the row unquantized.
    @discardableResult
    public static func row(
        _ x: UnsafePointer<Float>, cols: Int, blockSize: Int,
        quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<UInt16>, stats: inout ErrorStats
    ) -> Int {
        row(x, cols: cols, blockSize: blockSize, quants: quants, scales: scales, stats: &stats, kernel: .best)
    }

    /// `row(_:cols:blockSize:quants:scales:stats:)` with a chosen loop: every kernel gives the same
    /// quants, scales, statistics and return value, bit for bit (the vector loop takes blocks that
    /// are a multiple of 8 up to 256; others run the portable loop).
    @discardableResult
    public static func row(
        _ x: UnsafePointer<Float>, cols: Int, blockSize: Int, quants: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<UInt16>, stats: inout ErrorStats, kernel: Int8Kernel
    ) -> Int {
        var st: (Double, Double, Double) = (0, 0, 0)
        let overflowed = withUnsafeMutableBytes(of: &st) { raw in
            prism_quantize_weight_row_kernel(
                kernel.code, x, Int32(cols), Int32(blockSize), quants, scales,
                raw.baseAddress!.assumingMemoryBound(to: Double.self))
        }
        stats.sumSquaredError += st.0
        stats.sumSquared += st.1
        stats.maxAbs = max(stats.maxAbs, st.2)
        stats.count += cols
        return Int(overflowed)
    }

    /// Where the non-finite values (NaN, +-inf) of `x[0..<count]` are.
    public struct NonFinite: Equatable, Sendable {
        public var count = 0
        public var nans = 0
        /// Index of the first one, if any.
        public var first: Int?
        public init() {}
    }

    /// Counts the NaN and infinite values of `x[0..<count]` (one vectorized pass).
    public static func nonFinite(_ x: UnsafePointer<Float>, count: Int) -> NonFinite {
        var first = -1, nans = 0
        let n = prism_count_non_finite(x, count, &first, &nans)
        var r = NonFinite()
        r.count = n
        r.nans = nans
        r.first = first >= 0 ? first : nil
        return r
    }

    /// Widens `count` bf16 values to f32 and counts the NaN and inf among them, in one pass.
    /// - Returns: how many of them are NaN or +-inf.
    public static func widenBF16(
        _ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int,
        kernel: Int8Kernel = .best
    ) -> Int {
        prism_bf16_widen_count_non_finite(kernel.code, src, dst, count)
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

import CPrismKernels
import Foundation

/// How products with int8 weights treat the activations.
public enum ActivationRoute: Sendable {
    /// fp32 activations: int8 weights are dequantized inside the loop (small batches) or in
    /// tiles handed to OpenBLAS (large ones). Exact with respect to the stored weights.
    case exact
    /// Activations quantized to int8 per block of 32 and multiplied in int8 with int32
    /// accumulation (AVX2 / VNNI through CPrismKernels), as llama.cpp does: fastest.
    case int8
}

/// The kernels for block-quantized int8 weights.
public enum Q8Kernels {
    /// The int8 kernel in use: the best this CPU supports, unless a test forces another.
    nonisolated(unsafe) public static var kernel: Int32 = prism_best_kernel()
    public static var bestKernel: Int32 { prism_best_kernel() }
    public static let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public static func kernelName(_ k: Int32) -> String {
        switch Int(k) {
        case PRISM_KERNEL_AVX512VNNI: return "avx512-vnni"
        case PRISM_KERNEL_AVXVNNI: return "avx-vnni"
        case PRISM_KERNEL_AVX2: return "avx2"
        default: return "portable"
        }
    }

    /// Quantizes `count` rows of `cols` activations per block of 32: `x ~ q * scale`.
    public static func quantizeActivations(_ x: UnsafePointer<Float>, count: Int, cols: Int,
                                           _ q: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>) {
        let nb = cols / 32
        for t in 0..<count {
            for b in 0..<nb {
                let p = x + t * cols + b * 32
                let v0 = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
                let v1 = UnsafeRawPointer(p + 16).loadUnaligned(as: SIMD16<Float>.self)
                let amax = pointwiseMax(pointwiseMax(v0, -v0), pointwiseMax(v1, -v1)).max()
                let scale = amax / 127
                let inv: Float = scale > 0 ? 1 / scale : 0
                scales[t * nb + b] = scale
                let q0 = SIMD16<Int32>((v0 * inv).rounded(.toNearestOrEven))
                let q1 = SIMD16<Int32>((v1 * inv).rounded(.toNearestOrEven))
                let out = UnsafeMutableRawPointer(q + t * cols + b * 32)
                out.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: q0), as: SIMD16<Int8>.self)
                out.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: q1), toByteOffset: 16, as: SIMD16<Int8>.self)
            }
        }
    }

    /// Whether the int8 route can run on this matrix (blocks of exactly 32, whole blocks).
    public static func supportsInt8Route(_ w: WeightMatrix) -> Bool {
        if case .q8(_, _, let bs) = w.storage { return bs == 32 && w.cols % 32 == 0 }
        return false
    }

    /// `out[t, r] = x[t] . W[r]` through int8 x int8 products, rows split over the cores.
    public static func matmulInt8(_ x: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>) {
        guard case .q8(let quants, let scales, _) = w.storage else { return }
        let cols = w.cols, nb = cols / 32
        let xq = UnsafeMutablePointer<Int8>.allocate(capacity: count * cols)
        let xs = UnsafeMutablePointer<Float>.allocate(capacity: count * nb)
        defer { xq.deallocate(); xs.deallocate() }
        quantizeActivations(x, count: count, cols: cols, xq, xs)
        let parts = min(threads, max(1, w.rows / 64))
        let k = kernel
        let rows = w.rows
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            // Row ranges in multiples of 4 (the kernel's tile).
            let r0 = (rows * i / parts) & ~3, r1 = i == parts - 1 ? rows : (rows * (i + 1) / parts) & ~3
            prism_q8q8_matmul(k, quants, scales, Int32(cols), xq, xs, Int32(count), out, Int32(rows), Int32(r0), Int32(r1))
        }
    }

    /// `out[t, r] = x[t] . W[r]` with fp32 activations, dequantizing inside the loop (Swift
    /// SIMD): four rows share each activation load; rows split over the cores. For a few
    /// tokens (decoding), where the product is bound by reading the weights once.
    public static func matmulDequantizing(_ x: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>) {
        guard case .q8(let quants, let scales, let bs) = w.storage else { return }
        let rows = w.rows, cols = w.cols
        let parts = min(threads, max(1, rows / 64))
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let r0 = (rows * i / parts) & ~3, r1 = i == parts - 1 ? rows : (rows * (i + 1) / parts) & ~3
            for t in 0..<count {
                rowsDot(quants, scales, bs: bs, cols: cols, rows: r0..<r1, x + t * cols, out + t * rows)
            }
        }
    }

    @inline(__always)
    static func rowsDot(_ q: UnsafePointer<Int8>, _ s: UnsafePointer<UInt16>, bs: Int, cols: Int, rows: Range<Int>,
                        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        let nb = (cols + bs - 1) / bs
        let fullBlocks = bs % 16 == 0 ? cols / bs : 0
        var r = rows.lowerBound
        while r < rows.upperBound {
            let q0 = q + r * cols
            let s0 = s + r * nb
            var acc: Float = 0
            for b in 0..<fullBlocks {
                var blockSum = SIMD16<Float>()
                var i = b * bs
                let end = i + bs
                while i < end {
                    let wv = SIMD16<Float>(UnsafeRawPointer(q0 + i).loadUnaligned(as: SIMD16<Int8>.self))
                    blockSum.addProduct(wv, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self))
                    i += 16
                }
                acc += blockSum.sum() * Float(Float16(bitPattern: s0[b]))
            }
            // A partial last block (or blocks not a multiple of 16) element by element.
            var c = fullBlocks * bs
            while c < cols {
                acc += Float(q0[c]) * x[c] * Float(Float16(bitPattern: s0[c / bs]))
                c += 1
            }
            out[r] = acc
            r += 1
        }
    }
}

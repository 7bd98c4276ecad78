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

/// The kernels for block-quantized int8 weights. Each entry point takes the `Int8Kernel` to use
/// (default `.best`) and how many threads to split its rows over (default `threads`).
public enum Q8Kernels {
    /// The default thread count: the CPUs this process may use (affinity mask and cgroup CPU
    /// quota, see `CPUs`). Results never depend on the count: every output is summed by one
    /// thread in a fixed order, and the split falls on the kernels' tile boundaries.
    public static let threads = CPUs.available

    /// The best kernel's C code. The kernel is no longer a setting: pass an `Int8Kernel`.
    /// Quantizes `count` rows of `cols` activations per block of 32: `x ~ q * scale`.
    public static func quantizeActivations(
        _ x: UnsafePointer<Float>, count: Int, cols: Int,
        _ q: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>,
        kernel: Int8Kernel = .best
    ) {
        prism_quantize_rows(kernel.code, x, Int32(count), Int32(cols), q, scales)
    }

    /// Whether the int8 route can run on this matrix (blocks of exactly 32, whole blocks).
    public static func supportsInt8Route(_ w: WeightMatrix) -> Bool {
        if case .q8(_, _, let bs) = w.storage { return bs == 32 && w.cols % 32 == 0 }
        return false
    }

    /// `out[t, r] = x[t] . W[r]` through int8 x int8 products, rows split over the cores.
    /// Prompts: each `out[t, r]` is computed in one fixed order, whatever `count` and the split
    /// over cores (eight-row parts), so a prompt's numbers never depend on the prompts batched
    /// with it. `decoding` (one token per sequence, or the few rows of an unembedding) takes
    /// the kernel that streams the weights fastest; it sums in another order, but also the same
    /// way for a row whatever the other rows.
    public static func matmulInt8(
        _ x: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>,
        decoding: Bool = false, kernel: Int8Kernel = .best, threads: Int = Q8Kernels.threads
    ) {
        guard case .q8(let quants, let scales, _) = w.storage else { return }
        let cols = w.cols, nb = cols / 32
        let xq = UnsafeMutablePointer<Int8>.allocate(capacity: count * cols)
        let xs = UnsafeMutablePointer<Float>.allocate(capacity: count * nb)
        defer { xq.deallocate(); xs.deallocate() }
        quantizeActivations(x, count: count, cols: cols, xq, xs, kernel: kernel)
        let parts = min(max(1, threads), max(1, w.rows / 64))
        let k = kernel.code
        let rows = w.rows
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            if decoding {
                // Row ranges in multiples of 4 (the decode kernel's tile).
                let r0 = (rows * i / parts) & ~3, r1 = i == parts - 1 ? rows : (rows * (i + 1) / parts) & ~3
                prism_q8q8_matmul_decode(k, quants, scales, Int32(cols), xq, xs, Int32(count), out, Int32(rows), Int32(r0), Int32(r1))
            } else {
                // Row ranges in multiples of 8 (the prompt kernel's tile).
                let r0 = (rows * i / parts) & ~7, r1 = i == parts - 1 ? rows : (rows * (i + 1) / parts) & ~7
                prism_q8q8_matmul(k, quants, scales, Int32(cols), xq, xs, Int32(count), out, Int32(rows), Int32(r0), Int32(r1))
            }
        }
    }

    /// `out[t, r] = x[t] . W[r]` with fp32 activations, dequantizing inside the loop; rows split
    /// over the cores. For a few tokens (decoding), where the product is bound by reading the
    /// weights once. The loop is C (vectorized by clang): Swift's SIMD Int8-to-Float
    /// conversion compiled to per-lane calls, measured 4x slower than the plain C loop.
    ///
    /// Each `out[t, r]` is one row's dot product, summed in the same order whatever `count` or
    /// the rows beside it, so it serves the rows that must not depend on their batch (the
    /// decomposed rows of W_O and W_down). Several tokens go over the rows a panel at a time
    /// (~256 KiB of weights, kept in L2 while every token passes), so the weights are read from
    /// memory once, not once per token.
    public static func matmulDequantizing(
        _ x: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>,
        kernel: Int8Kernel = .best, threads: Int = Q8Kernels.threads
    ) {
        guard case .q8(let quants, let scales, let bs) = w.storage else { return }
        let rows = w.rows, cols = w.cols
        let k = kernel.code
        let parts = min(max(1, threads), max(1, rows / 64))
        let panel = count == 1 ? rows : max(4, (256 * 1024 / max(1, cols)) & ~3)
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let r0 = (rows * i / parts) & ~3, r1 = i == parts - 1 ? rows : (rows * (i + 1) / parts) & ~3
            var p0 = r0
            while p0 < r1 {
                let p1 = min(r1, p0 + panel)
                for t in 0..<count {
                    prism_q8_rows_dot_f32(k, quants, scales, Int32(cols), Int32(bs), x + t * cols, Int32(p0), Int32(p1), out + t * rows)
                }
                p0 = p1
            }
        }
    }

    /// `out[k, c] = sum_r u[k, r] * W[r, c]`: the prisms' pull-back, columns split over the cores
    /// at block boundaries. Each weight is widened to fp32 once and serves every direction.
    public static func pullBack(
        _ u: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>,
        kernel: Int8Kernel = .best, threads: Int = Q8Kernels.threads
    ) {
        guard case .q8(let quants, let scales, let bs) = w.storage, count > 0, w.cols > 0 else { return }
        let rows = w.rows, cols = w.cols
        let blocks = (cols + bs - 1) / bs
        let parts = min(max(1, threads), max(1, blocks / 4))
        let k = kernel.code
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let c0 = blocks * i / parts * bs, c1 = min(cols, blocks * (i + 1) / parts * bs)
            prism_q8_pullback(
                k, quants, scales, Int32(rows), Int32(cols), Int32(bs), u, Int32(count), Int32(rows),
                out, Int32(cols), Int32(c0), Int32(c1))
        }
    }
}

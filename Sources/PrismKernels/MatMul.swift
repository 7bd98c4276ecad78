import CBLAS
import Foundation

/// `out[m, r] = sum_c x[m, c] * W[r, c]` for `m < count`: the product of activations
/// `[count, cols]` with a stored weight `[rows, cols]` transposed, `out` is `[count, rows]`.
///
/// f32 weights go straight from the mapping to OpenBLAS. Other storages are dequantized
/// a tile of rows at a time into a small scratch buffer (never the whole matrix) and each
/// tile is handed to `sgemm`, writing its columns of `out`. `kernel`: the int8 loops' instruction set;
/// `threads`: how many threads share the rows (the result does not depend on it).
public func matmulTransposed(
    _ x: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>,
    route: ActivationRoute = .exact, kernel: Int8Kernel = .best, threads: Int = Q8Kernels.threads
) {
    guard count > 0, w.rows > 0 else { return }
    if case .q8 = w.storage {
        if route == .int8 && Q8Kernels.supportsInt8Route(w) {
            Q8Kernels.matmulInt8(x, count: count, w, out, kernel: kernel, threads: threads)
            return
        }
        // A few tokens: bound by reading the weights, so dequantize in registers, not in tiles.
        if count <= 4 {
            Q8Kernels.matmulDequantizing(x, count: count, w, out, kernel: kernel, threads: threads)
            return
        }
    }
    let k = Int32(w.cols)
    if case .f32(let p) = w.storage {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(w.rows), k,
            1, x, k, p, k, 0, out, Int32(w.rows))
        return
    }
    // ~1 MiB of f32 per tile: stays in L2 while sgemm streams the activations past it.
    let tileRows = max(8, min(w.rows, (256 * 1024) / max(1, w.cols)))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * w.cols)
    defer { scratch.deallocate() }
    var r0 = 0
    while r0 < w.rows {
        let r1 = min(w.rows, r0 + tileRows)
        dequantizeInParallel(w, rows: r0..<r1, into: scratch, threads: threads)
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(r1 - r0), k,
            1, x, k, scratch, k, 0, out + r0, Int32(w.rows))
        r0 = r1
    }
}

/// `out[m, r] = x[m] . W[r]` over a batch whose rows come in independent `segments` (one per
/// sequence, covering `0..<count` in order), such that every row's result is the same
/// whatever the other segments hold: the int8 prompt kernels compute each row in a fixed order
/// and take the whole batch at once (each weight read once); every other route runs segment by
/// segment, since a BLAS's summation order may depend on how many rows it is given.
/// `decoding` (one new token per sequence) lets the int8 route stream the weights instead.
public func matmulTransposed(
    _ x: UnsafePointer<Float>, segments: [Range<Int>], _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>,
    route: ActivationRoute, decoding: Bool = false, kernel: Int8Kernel = .best, threads: Int = Q8Kernels.threads
) {
    let count = segments.last?.upperBound ?? 0
    if route == .int8, case .q8 = w.storage, Q8Kernels.supportsInt8Route(w) {
        Q8Kernels.matmulInt8(x, count: count, w, out, decoding: decoding, kernel: kernel, threads: threads)
        return
    }
    for s in segments where !s.isEmpty {
        matmulTransposed(x + s.lowerBound * w.cols, count: s.count, w, out + s.lowerBound * w.rows, route: route, kernel: kernel, threads: threads)
    }
}

/// `y[r] = W[r, :] . v`, for a single vector: `matmulTransposed` with one row.
public func matvec(_ w: WeightMatrix, _ v: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, kernel: Int8Kernel = .best) {
    matmulTransposed(v, count: 1, w, y, kernel: kernel)
}

/// `y[c] = sum_r u[r] * W[r, c]`: `W^T u` for a single direction (`pullBack` with one row).
public func matvecTransposed(_ w: WeightMatrix, _ u: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, kernel: Int8Kernel = .best) {
    pullBack(u, count: 1, w, y, kernel: kernel)
}

/// `out[m, c] = sum_r u[m, r] * W[r, c]` for `m < count`: directions `[count, rows]` pulled
/// back through a stored weight `[rows, cols]` (`U W`, i.e. `W^T u` for each row u). The
/// prisms use it for `W_O^T u` and `W_down^T u` over many targets at once. `kernel`: the int8
/// loop's instruction set.
public func pullBack(
    _ u: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>,
    kernel: Int8Kernel = .best, threads: Int = Q8Kernels.threads
) {
    guard count > 0, w.cols > 0 else { return }
    let n = Int32(w.cols), k = Int32(w.rows)
    if case .f32(let p) = w.storage {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), n, k, 1, u, k, p, n, 0, out, n)
        return
    }
    if case .q8 = w.storage {
        Q8Kernels.pullBack(u, count: count, w, out, kernel: kernel, threads: threads)
        return
    }
    let tileRows = max(8, min(w.rows, (256 * 1024) / max(1, w.cols)))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * w.cols)
    defer { scratch.deallocate() }
    out.update(repeating: 0, count: count * w.cols)
    var r0 = 0
    while r0 < w.rows {
        let r1 = min(w.rows, r0 + tileRows)
        dequantizeInParallel(w, rows: r0..<r1, into: scratch, threads: threads)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), n, Int32(r1 - r0), 1, u + r0, k, scratch, n, 1, out, n)
        r0 = r1
    }
}

/// Dequantizes a tile of rows on `threads` threads (equal parts of the tile), before OpenBLAS uses it.
func dequantizeInParallel(_ w: WeightMatrix, rows range: Range<Int>, into out: UnsafeMutablePointer<Float>, threads: Int = Q8Kernels.threads) {
    let parts = range.count >= 64 ? max(1, threads) : 1
    if parts == 1 {
        w.dequantize(rows: range, into: out)
        return
    }
    DispatchQueue.concurrentPerform(iterations: parts) { i in
        let a = range.lowerBound + range.count * i / parts, b = range.lowerBound + range.count * (i + 1) / parts
        w.dequantize(rows: a..<b, into: out + (a - range.lowerBound) * w.cols)
    }
}

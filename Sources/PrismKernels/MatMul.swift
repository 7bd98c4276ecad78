import CBLAS

/// `out[m, r] = sum_c x[m, c] * W[r, c]` for `m < count`: the product of activations
/// `[count, cols]` with a stored weight `[rows, cols]` transposed, `out` is `[count, rows]`.
///
/// f32 weights go straight from the mapping to OpenBLAS. Other storages are dequantized
/// a tile of rows at a time into a small scratch buffer (never the whole matrix) and each
/// tile is handed to `sgemm`, writing its columns of `out`.
public func matmulTransposed(_ x: UnsafePointer<Float>, count: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>) {
    guard count > 0, w.rows > 0 else { return }
    let k = Int32(w.cols)
    if case .f32(let p) = w.storage {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(w.rows), k,
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
        w.dequantize(rows: r0..<r1, into: scratch)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(r1 - r0), k,
                    1, x, k, scratch, k, 0, out + r0, Int32(w.rows))
        r0 = r1
    }
}

/// `y[r] = W[r, :] . v`, for a single vector: `matmulTransposed` with one row.
public func matvec(_ w: WeightMatrix, _ v: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    matmulTransposed(v, count: 1, w, y)
}

/// `y[c] = sum_r u[r] * W[r, c]`: the transposed product, `W^T u`, used by the prisms to
/// pull a readout direction back through a projection (`W_O^T u`, `W_down^T u`).
public func matvecTransposed(_ w: WeightMatrix, _ u: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    let k = Int32(w.cols)
    if case .f32(let p) = w.storage {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(w.rows), k, 1, p, k, u, 1, 0, y, 1)
        return
    }
    let tileRows = max(8, min(w.rows, (256 * 1024) / max(1, w.cols)))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * w.cols)
    defer { scratch.deallocate() }
    y.update(repeating: 0, count: w.cols)
    var r0 = 0
    while r0 < w.rows {
        let r1 = min(w.rows, r0 + tileRows)
        w.dequantize(rows: r0..<r1, into: scratch)
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(r1 - r0), k, 1, scratch, k, u + r0, 1, 1, y, 1)
        r0 = r1
    }
}

import CPrismKernels
import PrismSupport

/// A weight matrix stored `[rows = out_features, cols = in_features]`, row-major, as
/// PyTorch stores it, pointing into a memory-mapped file (never copied whole).
public struct WeightMatrix: @unchecked Sendable {
    public enum Storage {
        case f32(UnsafePointer<Float>)
        case bf16(UnsafePointer<UInt16>)
        case f16(UnsafePointer<UInt16>)
        /// int8 quants `[rows, cols]` and one scale per `blockSize` consecutive inputs of a row,
        /// `[rows, ceil(cols / blockSize)]` as f16 bits: w[r, c] = q[r, c] * scale[r, c / blockSize];
        /// the last block of a row may be partial.
        case q8(quants: UnsafePointer<Int8>, scales: UnsafePointer<UInt16>, blockSize: Int)
    }

    public let rows: Int
    public let cols: Int
    public let storage: Storage
    /// Keeps the mapping alive while this matrix is in use.
    public let owner: AnyObject?

    public init(rows: Int, cols: Int, storage: Storage, owner: AnyObject?) {
        self.rows = rows
        self.cols = cols
        self.storage = storage
        self.owner = owner
    }

    public var byteCount: Int {
        switch storage {
        case .f32: return rows * cols * 4
        case .bf16, .f16: return rows * cols * 2
        case .q8(_, _, let bs): return rows * cols + rows * ((cols + bs - 1) / bs) * 2
        }
    }

    /// Rows `range` of `m` as a matrix of their own (no copy).
    public init(sliceOf m: WeightMatrix, rows range: Range<Int>) {
        let storage: Storage
        switch m.storage {
        case .f32(let p): storage = .f32(p + range.lowerBound * m.cols)
        case .bf16(let p): storage = .bf16(p + range.lowerBound * m.cols)
        case .f16(let p): storage = .f16(p + range.lowerBound * m.cols)
        case .q8(let q, let s, let bs):
            storage = .q8(quants: q + range.lowerBound * m.cols, scales: s + range.lowerBound * ((m.cols + bs - 1) / bs), blockSize: bs)
        }
        self.init(rows: range.count, cols: m.cols, storage: storage, owner: m.owner)
    }

    /// The stored bytes of rows `range` (data, and scales for q8).
    public func storedBytes(rows range: Range<Int>) -> [UnsafeRawBufferPointer] {
        switch storage {
        case .f32(let p): return [UnsafeRawBufferPointer(start: p + range.lowerBound * cols, count: range.count * cols * 4)]
        case .bf16(let p), .f16(let p): return [UnsafeRawBufferPointer(start: p + range.lowerBound * cols, count: range.count * cols * 2)]
        case .q8(let q, let s, let bs):
            let blocks = (cols + bs - 1) / bs
            return [
                UnsafeRawBufferPointer(start: q + range.lowerBound * cols, count: range.count * cols),
                UnsafeRawBufferPointer(start: s + range.lowerBound * blocks, count: range.count * blocks * 2),
            ]
        }
    }

    /// Gives the pages of rows `range` back to the kernel (no-op for memory not from a file),
    /// each stored part widened to whole huge pages (see `MappedFile.release(spanning:)`).
    public func release(rows range: Range<Int>? = nil) {
        guard let owner = owner as? PageReleasing else { return }
        for b in storedBytes(rows: range ?? 0..<rows) { owner.release(spanning: [b]) }
    }

    /// Gives back the pages of several matrices in one span (a layer's, once used): see
    /// `MappedFile.release(spanning:)`. Matrices from different files, or not from a file, are
    /// released one by one.
    public static func release(together matrices: [WeightMatrix]) {
        guard let first = matrices.first?.owner, let owner = first as? PageReleasing,
            matrices.allSatisfy({ $0.owner === first })
        else {
            for m in matrices { m.release() }
            return
        }
        owner.release(spanning: matrices.flatMap { $0.storedBytes(rows: 0..<$0.rows) })
    }

    /// Writes rows `range` as f32 into `out` (`range.count * cols` floats).
    public func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let n = range.count * cols
        let start = range.lowerBound * cols
        switch storage {
        case .f32(let p):
            out.update(from: p + start, count: n)
        case .bf16(let p):
            Convert.bf16ToF32(p + start, out, count: n)
        case .f16(let p):
            Convert.f16ToF32(p + start, out, count: n)
        case .q8(let q, let s, let bs):
            let blocks = (cols + bs - 1) / bs
            for r in range {
                let o = out + (r - range.lowerBound) * cols
                Convert.q8ToF32(q + r * cols, scales: s + r * blocks, blockSize: bs, count: cols, o)
            }
        }
    }
}

/// Element conversions, vectorised with Swift SIMD types.
public enum Convert {
    @inlinable
    public static func bf16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeRawPointer(src)
        let out = UnsafeMutableRawPointer(dst)
        while i + 16 <= count {
            let h = raw.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt16>.self)
            let w = SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16
            out.storeBytes(of: w, toByteOffset: i * 4, as: SIMD16<UInt32>.self)
            i += 16
        }
        while i < count {
            dst[i] = Float(bitPattern: UInt32(src[i]) << 16)
            i += 1
        }
    }

    @inlinable
    public static func f16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeRawPointer(src)
        while i + 8 <= count {
            let h = raw.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float>(h), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            dst[i] = Float(Float16(bitPattern: src[i]))
            i += 1
        }
    }

    public static func q8ToF32(_ q: UnsafePointer<Int8>, scales: UnsafePointer<UInt16>, blockSize: Int, count: Int, _ dst: UnsafeMutablePointer<Float>) {
        prism_q8_dequantize_row(q, scales, Int32(count), Int32(blockSize), dst)
    }
}

import CPrismKernels
import PrismKernels
import XCTest

/// The kernels against naive loops on random shapes, odd sizes included.
final class KernelTests: XCTestCase {
    struct Q8Matrix {
        var rows: Int, cols: Int, block: Int
        var quants: [Int8]
        var scales: [UInt16]
        var dense: [Float]  // dequantized, for the naive reference
    }

    func randomQ8(rows: Int, cols: Int, block: Int = 32, seed: UInt64) -> Q8Matrix {
        var rng = Rng(seed)
        let nb = (cols + block - 1) / block
        var f32 = (0..<(rows * cols)).map { _ in Float(rng.normal()) * 0.05 }
        var q = [Int8](repeating: 0, count: rows * cols)
        var s = [UInt16](repeating: 0, count: rows * nb)
        var stats = Quantize.ErrorStats()
        f32.withUnsafeMutableBufferPointer { fp in
            q.withUnsafeMutableBufferPointer { qp in
                s.withUnsafeMutableBufferPointer { sp in
                    for r in 0..<rows {
                        Quantize.row(
                            fp.baseAddress! + r * cols, cols: cols, blockSize: block, quants: qp.baseAddress! + r * cols,
                            scales: sp.baseAddress! + r * nb, stats: &stats)
                    }
                }
            }
        }
        let dense = (0..<(rows * cols)).map { i in Float(q[i]) * Float(Float16(bitPattern: s[(i / cols) * nb + (i % cols) / block])) }
        return Q8Matrix(rows: rows, cols: cols, block: block, quants: q, scales: s, dense: dense)
    }

    func withMatrix<R>(_ m: Q8Matrix, _ body: (WeightMatrix) -> R) -> R {
        m.quants.withUnsafeBufferPointer { q in
            m.scales.withUnsafeBufferPointer { s in
                body(WeightMatrix(rows: m.rows, cols: m.cols, storage: .q8(quants: q.baseAddress!, scales: s.baseAddress!, blockSize: m.block), owner: nil))
            }
        }
    }

    func naive(_ x: [Float], count: Int, _ m: Q8Matrix) -> [Float] {
        var out = [Float](repeating: 0, count: count * m.rows)
        for t in 0..<count {
            for r in 0..<m.rows {
                var s = 0.0
                for c in 0..<m.cols { s += Double(x[t * m.cols + c]) * Double(m.dense[r * m.cols + c]) }
                out[t * m.rows + r] = Float(s)
            }
        }
        return out
    }

    func run(_ x: [Float], count: Int, _ m: Q8Matrix, route: ActivationRoute, kernel: Int8Kernel = .best) -> [Float] {
        var out = [Float](repeating: .nan, count: count * m.rows)
        withMatrix(m) { w in
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { matmulTransposed(xp.baseAddress!, count: count, w, $0.baseAddress!, route: route, kernel: kernel) }
            }
        }
        return out
    }

    func maxRelative(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(1e-6, b.map(abs).max() ?? 0)
        return (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / scale
    }

    /// fp32-activation routes (in-register dequantization for few tokens, tiles + OpenBLAS for
    /// many) equal the naive product over the dequantized weights (1e-5 relative).
    func testExactRoutesMatchNaive() {
        let shapes = [(1, 37, 50), (3, 64, 96), (4, 33, 48), (5, 130, 64), (17, 7, 160), (1, 300, 2048), (9, 12, 16)]
        for (k, (count, rows, cols)) in shapes.enumerated() {
            for block in [16, 32] {
                let m = randomQ8(rows: rows, cols: cols, block: block, seed: UInt64(k * 10 + block))
                var rng = Rng(UInt64(k + 99))
                let x = (0..<(count * cols)).map { _ in Float(rng.normal()) }
                XCTAssertLessThanOrEqual(
                    maxRelative(run(x, count: count, m, route: .exact), naive(x, count: count, m)), 1e-5, "\(count)x\(rows)x\(cols) block \(block)")
            }
        }
    }

    /// The int8 route: every kernel this CPU has gives the portable kernel's result (to float
    /// rounding of the scales' products), and both stay near the exact product (activation
    /// quantization error, ~1% relative).
    func testInt8KernelsAgreeWithPortableAndNaive() {
        let available = Int8Kernel.runnable
        // Shapes reach every path: one token (four streams), 2-3 tokens (4-row tiles), 4+ tokens
        // (8-row interleaved tiles, then 4-row tiles and the portable loop for the last rows).
        for (k, (count, rows, cols)) in [
            (1, 37, 64), (2, 64, 96), (5, 130, 2048), (32, 257, 256), (3, 4, 32), (7, 3, 64),
            (4, 13, 96), (9, 28, 64), (33, 70, 512),
        ].enumerated() {
            let m = randomQ8(rows: rows, cols: cols, seed: UInt64(500 + k))
            var rng = Rng(UInt64(k + 7))
            let x = (0..<(count * cols)).map { _ in Float(rng.normal()) }
            let portable = run(x, count: count, m, route: .int8, kernel: .portable)
            XCTAssertLessThan(maxRelative(portable, naive(x, count: count, m)), 0.03, "portable vs exact \(rows)x\(cols)")
            for kernel in available {
                let got = run(x, count: count, m, route: .int8, kernel: kernel)
                XCTAssertLessThanOrEqual(maxRelative(got, portable), 1e-5, "\(kernel) vs portable, \(count)x\(rows)x\(cols)")
            }
        }
        print("int8 kernels checked: \(available.map(\.name)) (best here: \(Int8Kernel.best))")
    }

    /// A prompt's numbers must not depend on the prompts batched with it (issue: a batch record
    /// changed with its chunk's size). Every int8 prompt kernel gives each token's row exactly
    /// (bit for bit) what it gives that token alone, and what the portable loop gives; the
    /// dequantizing product for the exact rows, and the per-segment route, likewise.
    func testProductsDoNotDependOnTheBatch() {
        let available = Int8Kernel.runnable
        // (260, 11, 16384): activations over 4 MiB, which the VNNI prompt kernels take in token blocks (256 + 4).
        for (k, (count, rows, cols)) in [(9, 70, 512), (6, 37, 64), (17, 260, 256), (3, 13, 96), (260, 11, 16384)].enumerated() {
            let m = randomQ8(rows: rows, cols: cols, seed: UInt64(900 + k))
            var rng = Rng(UInt64(k + 77))
            let x = (0..<(count * cols)).map { _ in Float(rng.normal()) }
            func alone(_ t: Int, route: ActivationRoute, kernel: Int8Kernel = .best) -> [Float] {
                run(Array(x[(t * cols)..<((t + 1) * cols)]), count: 1, m, route: route, kernel: kernel)
            }
            let portable = run(x, count: count, m, route: .int8, kernel: .portable)
            for kernel in available {
                let all = run(x, count: count, m, route: .int8, kernel: kernel)
                XCTAssertEqual(all, portable, "\(kernel) vs portable, bit for bit, \(count)x\(rows)x\(cols)")
                for t in 0..<count {
                    XCTAssertEqual(
                        Array(all[(t * rows)..<((t + 1) * rows)]), alone(t, route: .int8, kernel: kernel), "token \(t) alone vs in a batch of \(count)")
                }
            }
            // The exact rows' product: each token's row as if alone.
            var many = [Float](repeating: .nan, count: count * rows)
            withMatrix(m) { w in
                x.withUnsafeBufferPointer { xp in
                    many.withUnsafeMutableBufferPointer { Q8Kernels.matmulDequantizing(xp.baseAddress!, count: count, w, $0.baseAddress!) }
                }
            }
            for t in 0..<count {
                var one = [Float](repeating: .nan, count: rows)
                withMatrix(m) { w in
                    x.withUnsafeBufferPointer { xp in
                        one.withUnsafeMutableBufferPointer { Q8Kernels.matmulDequantizing(xp.baseAddress! + t * cols, count: 1, w, $0.baseAddress!) }
                    }
                }
                XCTAssertEqual(Array(many[(t * rows)..<((t + 1) * rows)]), one, "exact row \(t) alone vs with \(count)")
            }
            // Segments of the exact route (BLAS for long ones): a segment's rows as if alone.
            let cut = count / 2
            var segmented = [Float](repeating: .nan, count: count * rows)
            withMatrix(m) { w in
                x.withUnsafeBufferPointer { xp in
                    segmented.withUnsafeMutableBufferPointer {
                        matmulTransposed(xp.baseAddress!, segments: [0..<cut, cut..<count], w, $0.baseAddress!, route: .exact)
                    }
                }
            }
            XCTAssertEqual(Array(segmented[(cut * rows)...]), run(Array(x[(cut * cols)...]), count: count - cut, m, route: .exact), "second segment alone")
        }
    }

    /// The fused int8 pull-back `U W` (the prisms' `W_O^T u`, `W_down^T u`): the portable loop and
    /// the AVX2 and AVX-512 kernels each equal the naive product over the dequantized weights (1e-5
    /// relative), on odd shapes, partial blocks and chunks, and target counts that exercise every
    /// register group; the AVX-512 loop equals the AVX2 loop bit for bit.
    func testPullBackMatchesNaive() {
        var kernels: [Int8Kernel] = Int8Kernel.best >= .avx2 ? [.portable, .avx2] : [.portable]
        if Int8Kernel.best == .avx512VNNI { kernels.append(.avx512VNNI) }
        let cases = [
            (1, 37, 50, 32), (5, 64, 96, 32), (10, 33, 2048, 32), (7, 130, 64, 16), (23, 7, 160, 32), (13, 300, 530, 32),
            (2, 5, 17, 32), (41, 16, 48, 32),
            // Widened chunks of 512 columns with a partial last one; blocks of 48 (strips
            // never straddle a block); blocks of 24 (not whole strips: the portable loop).
            (10, 70, 1100, 32), (6, 65, 1100, 48), (3, 20, 100, 24),
        ]
        for (i, (count, rows, cols, block)) in cases.enumerated() {
            let m = randomQ8(rows: rows, cols: cols, block: block, seed: UInt64(900 + i))
            var rng = Rng(UInt64(i + 31))
            let u = (0..<(count * rows)).map { _ in Float(rng.normal()) }
            var expected = [Float](repeating: 0, count: count * cols)
            for k in 0..<count {
                for c in 0..<cols {
                    var s = 0.0
                    for r in 0..<rows { s += Double(u[k * rows + r]) * Double(m.dense[r * cols + c]) }
                    expected[k * cols + c] = Float(s)
                }
            }
            var outs: [Int8Kernel: [Float]] = [:]
            for kernel in kernels {
                var out = [Float](repeating: .nan, count: count * cols)
                withMatrix(m) { w in
                    u.withUnsafeBufferPointer { up in
                        out.withUnsafeMutableBufferPointer { pullBack(up.baseAddress!, count: count, w, $0.baseAddress!, kernel: kernel) }
                    }
                }
                XCTAssertLessThanOrEqual(maxRelative(out, expected), 1e-5, "\(kernel) \(count)x\(rows)x\(cols) block \(block)")
                outs[kernel] = out
            }
            if let wide = outs[.avx512VNNI], let narrow = outs[.avx2] {
                XCTAssertEqual(wide.map(\.bitPattern), narrow.map(\.bitPattern), "AVX-512 vs AVX2 \(count)x\(rows)x\(cols) block \(block)")
            }
        }
    }

    /// The vectorized GELU (tanh form) against the formula in Double: within 2e-6 of max(|x|, 1e-3)
    /// for every kernel here, including the tails where exp overflows or underflows, and tail lengths.
    func testGeluTanhMatchesFormula() {
        var rng = Rng(77)
        var xs: [Float] = [0, -0.0, 1e-8, -1e-8, 1, -1, 3, -3, 10, -10, 50, -50, 100, -100, 1e30, -1e30]
        xs += (0..<4001).map { _ in Float(rng.normal() * 4) }
        for kernel in (Int8Kernel.best >= .avx2 ? [Int8Kernel.portable, .avx2] : [.portable]) {
            var out = xs
            out.withUnsafeMutableBufferPointer { Ops.geluTanh($0.baseAddress!, count: $0.count, kernel: kernel) }
            for (x, y) in zip(xs, out) {
                let d = Double(x)
                let want = 0.5 * d * (1 + tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
                XCTAssertLessThanOrEqual(abs(Double(y) - want), 2e-6 * max(abs(d), 1e-3), "x = \(x), kernel \(kernel)")
            }
        }
    }

    func testConversions() {
        let values: [Float] = [0, 1, -2, 0.1, 3.14159, -65504, 1e-8, .infinity]
        var bf = values.map(Quantize.bf16)
        var out = [Float](repeating: 0, count: values.count)
        bf.withUnsafeMutableBufferPointer { b in out.withUnsafeMutableBufferPointer { Convert.bf16ToF32(b.baseAddress!, $0.baseAddress!, count: values.count) }
        }
        for (v, o) in zip(values, out) where v.isFinite { XCTAssertEqual(o, v, accuracy: abs(v) / 128 + 1e-38) }
        XCTAssertEqual(Quantize.bf16(1.0), 0x3f80)
        XCTAssertEqual(Quantize.bf16(Float(bitPattern: 0x3f80_8000)), 0x3f80, "ties to even")
        XCTAssertEqual(Quantize.bf16(Float(bitPattern: 0x3f81_8000)), 0x3f82, "ties to even")
    }
}

/// Deterministic normal samples (Box-Muller over SplitMix64).
struct Rng {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-12), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

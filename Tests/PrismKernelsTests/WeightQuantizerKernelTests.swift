import PrismKernels
import XCTest

/// The vector weight quantizer (`prism convert`'s int8 path) against the portable loop, bit for
/// bit: quants, f16 scales, the overflow count and the error statistics written into the file.
final class WeightQuantizerKernelTests: XCTestCase {
    /// The kernels to compare with the portable loop; skips where the CPU has no vector loop.
    private func vectorKernels() throws -> [Int8Kernel] {
        let kernels = Int8Kernel.runnable.filter { $0 != .portable }
        try XCTSkipIf(kernels.isEmpty, "no vector kernel on this CPU")
        return kernels
    }

    private struct Quantized: Equatable {
        var quants: [Int8]
        var scales: [UInt16]
        var overflowed: Int
        /// Bit patterns, so -0 vs 0 or a last-bit difference in a sum counts.
        var stats: [UInt64]
    }

    /// Quantizes `rows` rows of `x` one after another into one ErrorStats (as a converter's worker
    /// does), starting from non-zero statistics so the accumulation is compared too.
    private func quantize(_ x: [Float], rows: Int, cols: Int, block: Int, kernel: Int8Kernel) -> Quantized {
        let blocks = (cols + block - 1) / block
        var q = [Int8](repeating: 0x55, count: rows * cols)
        var s = [UInt16](repeating: 0xAAAA, count: rows * blocks)
        var stats = Quantize.ErrorStats()
        stats.sumSquaredError = 0.125
        stats.sumSquared = 3.5
        stats.maxAbs = 1e-9
        var over = 0
        x.withUnsafeBufferPointer { xp in
            q.withUnsafeMutableBufferPointer { qp in
                s.withUnsafeMutableBufferPointer { sp in
                    for r in 0..<rows {
                        over += Quantize.row(
                            xp.baseAddress! + r * cols, cols: cols, blockSize: block, quants: qp.baseAddress! + r * cols,
                            scales: sp.baseAddress! + r * blocks, stats: &stats, kernel: kernel)
                    }
                }
            }
        }
        return Quantized(
            quants: q, scales: s, overflowed: over,
            stats: [stats.sumSquaredError.bitPattern, stats.sumSquared.bitPattern, stats.maxAbs.bitPattern])
    }

    /// Values of one family: ordinary weights, exact ties of the rounding, zeros (and -0), huge
    /// values (f16 scale overflow), tiny ones (subnormal or zero f16 scales), and a mix of scales.
    private func values(_ family: Int, count: Int, block: Int, rng: inout Rng) -> [Float] {
        var x = [Float](repeating: 0, count: count)
        for i in 0..<count {
            switch family {
            case 0: x[i] = Float(rng.normal() * 0.02)
            case 1:
                // Block starts hold 127 * s (so the scale is s, an f16 value); the others are
                // (k + 1/2) * s: exactly halfway for the rounding when 1/s is exact.
                let s = Float(Float16(Float(1 + Int(rng.next() % 64)) / 64 * Float(1 << (rng.next() % 8)) / 128))
                let k = Int(rng.next() % 254) - 127
                x[i] = i % block == 0 ? 127 * s : (Float(k) + 0.5) * s
            case 2: x[i] = rng.next() % 3 == 0 ? Float(rng.normal()) : (rng.next() % 2 == 0 ? 0 : -0.0)
            case 3: x[i] = Float(rng.normal() * 3e7)
            case 4: x[i] = Float(rng.normal() * 1e-7 * Double(rng.next() % 100))
            default: x[i] = Float(rng.normal() * pow(10, Double(Int(rng.next() % 20) - 10)))
            }
        }
        if family == 2, count >= block { for i in 0..<block { x[i] = 0 } }  // one all-zero block
        return x
    }

    func testVectorQuantizerEqualsPortableBitForBit() throws {
        let kernels = try vectorKernels()
        var rng = Rng(1900)
        // Odd widths (partial last blocks, fewer than 8 blocks, 8 blocks plus a remainder) and
        // block sizes the vector loop takes (multiples of 8) or leaves to the portable one.
        let shapes: [(rows: Int, cols: Int, block: Int)] = [
            (3, 1, 32), (2, 31, 32), (2, 33, 32), (3, 255, 32), (2, 256, 32), (4, 257, 32), (2, 263, 32),
            (3, 2048, 32), (1, 2049, 32), (2, 16389, 32), (3, 200, 8), (2, 517, 16), (2, 1000, 24),
            (2, 777, 64), (2, 4100, 256), (2, 300, 40), (2, 100, 7), (1, 3000, 264),
        ]
        for (rows, cols, block) in shapes {
            for family in 0..<6 {
                let x = values(family, count: rows * cols, block: block, rng: &rng)
                let reference = quantize(x, rows: rows, cols: cols, block: block, kernel: .portable)
                for kernel in kernels {
                    let got = quantize(x, rows: rows, cols: cols, block: block, kernel: kernel)
                    XCTAssertEqual(got.quants, reference.quants, "\(kernel) \(rows)x\(cols) block \(block) family \(family): quants")
                    XCTAssertEqual(got.scales, reference.scales, "\(kernel) \(rows)x\(cols) block \(block) family \(family): scales")
                    XCTAssertEqual(got.overflowed, reference.overflowed, "\(kernel) \(rows)x\(cols) block \(block) family \(family): overflow")
                    XCTAssertEqual(got.stats, reference.stats, "\(kernel) \(rows)x\(cols) block \(block) family \(family): stats")
                }
            }
        }
    }

    /// Ties round to even and quants clamp at +-127, with each kernel: scale 1 (max |w| = 127),
    /// so the quant of v is rint(v) exactly.
    func testTiesRoundToEvenWithEachKernel() {
        let halves: [Float] = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 126.5, -126.5, -0.0, 0]
        for kernel in Int8Kernel.runnable {
            for cols in [32, 256, 257] {
                var x = [Float](repeating: 0, count: cols)
                for i in 0..<cols { x[i] = i % 32 == 0 ? 127 : halves[i % halves.count] }
                let got = quantize(x, rows: 1, cols: cols, block: 32, kernel: kernel)
                for i in 0..<cols {
                    XCTAssertEqual(got.quants[i], Int8(x[i].rounded(.toNearestOrEven)), "\(kernel) cols \(cols): \(x[i])")
                }
                XCTAssertTrue(got.scales.allSatisfy { $0 == Float16(1).bitPattern }, "\(kernel) cols \(cols): scales")
            }
        }
    }

    /// A block whose max |w| / 127 is beyond f16 counts once and gets the largest f16 scale, with
    /// each kernel; the other blocks are untouched by it.
    func testScaleOverflowCountsBlocksAndClampsTheirScale() {
        let cols = 32 * 11 + 5, block = 32
        var rng = Rng(1901)
        var x = (0..<cols).map { _ in Float(rng.normal() * 0.1) }
        let hugeBlocks = [0, 3, 9, 11]  // 11 is the partial block
        for b in hugeBlocks { x[b * block + 1] = b % 2 == 0 ? 1e7 : -2e9 }
        for kernel in Int8Kernel.runnable {
            let got = quantize(x, rows: 1, cols: cols, block: block, kernel: kernel)
            XCTAssertEqual(got.overflowed, hugeBlocks.count, "\(kernel)")
            for b in 0..<got.scales.count {
                let isHuge = hugeBlocks.contains(b)
                XCTAssertEqual(got.scales[b] == Float16(65504).bitPattern, isHuge, "\(kernel) block \(b)")
                XCTAssertTrue(Float(Float16(bitPattern: got.scales[b])).isFinite, "\(kernel) block \(b)")
            }
        }
    }

    /// The bf16 widening pass gives the 16-bit shift and counts NaN and inf, with each kernel, on
    /// lengths around the vector width, with and without non-finite values.
    func testWidenBF16CountsNonFinite() {
        var rng = Rng(1902)
        for kernel in Int8Kernel.runnable {
            for n in [0, 1, 15, 16, 17, 100, 1029] {
                for withBad in [false, true] {
                    var src = (0..<n).map { _ in UInt16(truncatingIfNeeded: rng.next()) & 0x3fff }  // finite
                    if withBad && n > 0 {
                        for _ in 0..<(1 + n / 50) { src[Int(rng.next() % UInt64(n))] = [0x7f80, 0xff80, 0x7fc1, 0xffff][Int(rng.next() % 4)] }
                    }
                    var dst = [Float](repeating: .nan, count: n)
                    let count = src.withUnsafeBufferPointer { s in
                        dst.withUnsafeMutableBufferPointer { d in
                            Quantize.widenBF16(
                                s.baseAddress ?? UnsafePointer(bitPattern: 8)!, into: d.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!,
                                count: n, kernel: kernel)
                        }
                    }
                    let expected = src.map { Float(bitPattern: UInt32($0) << 16) }
                    XCTAssertEqual(count, expected.filter { !$0.isFinite }.count, "\(kernel) n \(n)")
                    XCTAssertEqual(dst.map(\.bitPattern), expected.map(\.bitPattern), "\(kernel) n \(n)")
                }
            }
        }
    }
}

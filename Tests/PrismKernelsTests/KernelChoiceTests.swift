import Foundation
import PrismKernels
import XCTest

/// The kernel is a value passed with each call: every runnable kernel can be asked for, and calls
/// with different kernels at the same time do not see each other's choice.
extension KernelTests {
    /// The dequantizing product (decode steps, the exact rows) with each runnable kernel equals the
    /// naive product (1e-5 relative), blocks of 32 (vector loop) and 16 (portable loop), and each
    /// token's row is what that token alone gives.
    func testDequantizingProductWithEachKernel() {
        for (k, (count, rows, cols)) in [(1, 37, 64), (3, 70, 512), (4, 13, 96)].enumerated() {
            for block in [16, 32] {
                let m = randomQ8(rows: rows, cols: cols, block: block, seed: UInt64(1300 + k * 10 + block))
                var rng = Rng(UInt64(k + 400))
                let x = (0..<(count * cols)).map { _ in Float(rng.normal()) }
                let expected = naive(x, count: count, m)
                for kernel in Int8Kernel.runnable {
                    let got = dequantizing(x, count: count, m, kernel: kernel)
                    XCTAssertLessThanOrEqual(maxRelative(got, expected), 1e-5, "\(kernel) \(count)x\(rows)x\(cols) block \(block)")
                    for t in 0..<count {
                        XCTAssertEqual(
                            Array(got[(t * rows)..<((t + 1) * rows)]),
                            dequantizing(Array(x[(t * cols)..<((t + 1) * cols)]), count: 1, m, kernel: kernel),
                            "\(kernel): row \(t) alone vs with \(count)")
                    }
                }
            }
        }
    }

    /// Two threads running the same products with different kernels, many times over, give what
    /// each kernel gives alone: GELU (portable tanhf vs the vector exp), the decode product and
    /// the pull-back.
    func testKernelsRunConcurrentlyWithoutInterference() {
        let kernels: [Int8Kernel] = [.portable, .best]
        let m = randomQ8(rows: 96, cols: 256, seed: 1400)
        var rng = Rng(1401)
        let x = (0..<(2 * m.cols)).map { _ in Float(rng.normal() * 3) }
        let u = (0..<(3 * m.rows)).map { _ in Float(rng.normal()) }
        func all(_ kernel: Int8Kernel) -> [Float] {
            var g = x
            g.withUnsafeMutableBufferPointer { Ops.geluTanh($0.baseAddress!, count: $0.count, kernel: kernel) }
            let decode = dequantizing(x, count: 2, m, kernel: kernel)
            var pulled = [Float](repeating: .nan, count: 3 * m.cols)
            withMatrix(m) { w in
                u.withUnsafeBufferPointer { up in
                    pulled.withUnsafeMutableBufferPointer { pullBack(up.baseAddress!, count: 3, w, $0.baseAddress!, kernel: kernel) }
                }
            }
            return g + decode + pulled + run(x, count: 2, m, route: .int8, kernel: kernel)
        }
        let alone = kernels.map(all)
        let lock = NSLock()
        var mismatches: [String] = []
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let kernel = kernels[i % kernels.count]
            let got = all(kernel)
            if got != alone[i % kernels.count] {
                lock.lock()
                mismatches.append("iteration \(i), \(kernel)")
                lock.unlock()
            }
        }
        XCTAssertEqual(mismatches, [], "concurrent results differ from each kernel's own")
    }

    /// A kernel the CPU lacks runs as the best one below it; portable and the best always run.
    func testKernelsRunAsOneThisCPUHas() {
        XCTAssertEqual(Int8Kernel.runnable.first, .portable)
        XCTAssertEqual(Int8Kernel.runnable.last, Int8Kernel.best)
        for kernel in Int8Kernel.allCases {
            XCTAssertTrue(Int8Kernel.runnable.contains(kernel.runnableHere), "\(kernel) runs as \(kernel.runnableHere)")
            XCTAssertLessThanOrEqual(kernel.runnableHere, kernel)
            XCTAssertEqual(Int8Kernel(code: kernel.code), kernel.runnableHere)
        }
        for kernel in Int8Kernel.runnable { XCTAssertEqual(kernel.runnableHere, kernel) }
    }

    func dequantizing(_ x: [Float], count: Int, _ m: Q8Matrix, kernel: Int8Kernel) -> [Float] {
        var out = [Float](repeating: .nan, count: count * m.rows)
        withMatrix(m) { w in
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { Q8Kernels.matmulDequantizing(xp.baseAddress!, count: count, w, $0.baseAddress!, kernel: kernel) }
            }
        }
        return out
    }
}

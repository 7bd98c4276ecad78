import Foundation
import PrismKernels
import PrismSupport

/// One sequential pass over a mapped file on `threads` threads: the memory-bandwidth floor of
/// a decode step, which must read every weight once.
public enum ReadFloor {
    public static func sum(_ file: MappedFile, threads: Int = Q8Kernels.threads) -> UInt64 {
        guard let base = file.base else { return 0 }
        let parts = max(1, threads)
        let size = file.size
        var partial = [UInt64](repeating: 0, count: parts)
        partial.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let start = (size * i / parts) & ~63, end = i == parts - 1 ? size : (size * (i + 1) / parts) & ~63
                var acc = SIMD8<UInt64>()
                var p = start
                while p + 64 <= end {
                    acc &+= UnsafeRawPointer(base + p).loadUnaligned(as: SIMD8<UInt64>.self)
                    p += 64
                }
                out[i] = acc.wrappedSum()
            }
        }
        return partial.reduce(0, &+)
    }
}

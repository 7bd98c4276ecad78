import CLZ4
import PrismSupport

/// LZ4 block compression (liblz4), used where it measurably pays: the activation store,
/// and the converter's per-kind measurement of what it would save on the model file.
public enum LZ4 {
    public static func compress(_ src: UnsafeRawBufferPointer) -> [UInt8] {
        guard src.count > 0, src.count <= Int(LZ4_MAX_INPUT_SIZE) else { return [] }
        let bound = Int(LZ4_compressBound(Int32(src.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { dst in
            LZ4_compress_default(
                src.baseAddress!.assumingMemoryBound(to: CChar.self),
                dst.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(src.count), Int32(bound))
        }
        out.removeLast(bound - Int(max(0, n)))
        return out
    }

    public static func compress(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { compress($0) } }

    /// Decompresses exactly `originalSize` bytes; corrupt input is an error, never an overrun.
    public static func decompress(_ src: UnsafeRawBufferPointer, originalSize: Int, into dst: UnsafeMutableRawBufferPointer) throws {
        guard originalSize >= 0, originalSize <= dst.count, src.count <= Int(Int32.max), originalSize <= Int(Int32.max) else {
            throw PrismError("LZ4 block sizes out of range")
        }
        if originalSize == 0 && src.count == 0 { return }
        guard let s = src.baseAddress, let d = dst.baseAddress else { throw PrismError("LZ4 block is empty") }
        let n = LZ4_decompress_safe(
            s.assumingMemoryBound(to: CChar.self), d.assumingMemoryBound(to: CChar.self),
            Int32(src.count), Int32(originalSize))
        guard n == Int32(originalSize) else { throw PrismError("corrupt LZ4 block (decoded \(n) of \(originalSize) bytes)") }
    }

    public static func decompress(_ src: [UInt8], originalSize: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: originalSize)
        try src.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try decompress(s, originalSize: originalSize, into: $0) } }
        return out
    }
}

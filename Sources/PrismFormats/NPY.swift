import Foundation
import PrismSupport

/// Writes NumPy `.npy` files (format 1.0, little-endian, C order) that `numpy.load` reads.
public enum NPY {
    public static func encode(shape: [Int], float64 values: [Double]) -> [UInt8] {
        var out = header(descr: "<f8", shape: shape)
        values.withUnsafeBytes { out += $0 }
        return out
    }

    public static func encode(shape: [Int], float32 values: [Float]) -> [UInt8] {
        var out = header(descr: "<f4", shape: shape)
        values.withUnsafeBytes { out += $0 }
        return out
    }

    public static func encode(shape: [Int], int64 values: [Int]) -> [UInt8] {
        var out = header(descr: "<i8", shape: shape)
        values.map { Int64($0).littleEndian }.withUnsafeBytes { out += $0 }
        return out
    }

    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        // magic(6) + version(2) + len(2) + dict + '\n', padded to a multiple of 64.
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let n = UInt16(dict.utf8.count)
        out += [UInt8(n & 0xff), UInt8(n >> 8)]
        out += Array(dict.utf8)
        return out
    }
}

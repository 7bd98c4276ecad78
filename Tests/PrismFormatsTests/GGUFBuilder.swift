import Foundation

/// Writes GGUF files field by field, so each bad-input test controls exactly what the header says
/// (counts, types, offsets) independently of whether it makes sense.
struct GGUFBuilder {
    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var kvs: [[UInt8]] = []
    var tensors: [[UInt8]] = []
    var alignment = 32
    /// Bytes after the aligned data start.
    var data: [UInt8] = []
    var tensorCount: UInt64?
    var kvCount: UInt64?

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    /// A metadata entry: key, value type id, raw payload.
    mutating func kv(_ key: String, type: UInt32, _ payload: [UInt8]) { kvs.append(Self.str(key) + Self.le(type) + payload) }
    mutating func kvU32(_ key: String, _ v: UInt32) { kv(key, type: 4, Self.le(v)) }
    mutating func kvString(_ key: String, _ v: String) { kv(key, type: 8, Self.str(v)) }

    /// A tensor info; `dims` innermost first.
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        tensors.append(Self.str(name) + Self.le(UInt32(dims.count)) + dims.flatMap { Self.le($0) } + Self.le(type) + Self.le(offset))
    }

    var bytes: [UInt8] {
        var out = magic + Self.le(version) + Self.le(tensorCount ?? UInt64(tensors.count)) + Self.le(kvCount ?? UInt64(kvs.count))
        out += kvs.flatMap { $0 } + tensors.flatMap { $0 }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }
}

import Foundation
import PrismSupport

/// The activation store (`.acts`), documented in docs/ACTIVATIONS.md: a 64-byte header laid
/// out like the model file's (magic `PRISMACT`), LZ4-compressed chunks of fp32 activations,
/// and a JSON index naming each tensor with its shape and chunks. Every chunk carries the
/// XXH64 of its compressed bytes; the index and header are checksummed too.
public enum ActivationStoreFormat {
    public static let magic: [UInt8] = Array("PRISMACT".utf8)
    public static let versionMajor: UInt32 = 1
    public static let versionMinor: UInt32 = 0
    /// Raw bytes per chunk: bounded memory when reading, and LZ4 works well at this size.
    public static let chunkBytes = 1 << 20
    public static let maxIndexBytes = 256 << 20

    public struct Chunk: Codable, Equatable, Sendable {
        public var offset: Int
        public var length: Int
        /// Uncompressed length.
        public var raw: Int
        public var xxh64: String
    }

    public struct Tensor: Codable, Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var dtype: String
        public var chunks: [Chunk]
    }

    public struct Index: Codable, Equatable, Sendable {
        public var format = "logit-prisms activations"
        /// Identifies the weights the activations came from (see LoadedModel.fingerprint).
        public var model: String
        public var modelPath: String
        public var ids: [Int]
        public var tensors: [Tensor]
        /// The route the activations were recorded on ("int8" or "exact", as `RunOptions.routeName`;
        /// on "int8", W_O and W_down took fp32 activations at every position); nil in stores
        /// written before it was recorded.
        public var route: String? = nil
        enum CodingKeys: String, CodingKey { case format, model, modelPath = "model_path", ids, tensors, route }
    }
}

/// Writes one prompt's activations as they are recorded, to a temporary that takes the name
/// `path` only in `finish()` (`AtomicOutput`: an existing store is replaced only with `force`).
public final class ActivationStoreWriter {
    let path: String
    let file: AtomicOutput
    var offset = 0
    var tensors: [ActivationStoreFormat.Tensor] = []

    /// - Throws: `PrismError` when the directory cannot hold a new file.
    public init(path: String, force: Bool) throws {
        self.path = path
        file = try AtomicOutput(path: path, force: force)
        try write(Data(count: 64))
    }

    func write(_ data: Data) throws {
        try file.write(data)
        offset += data.count
    }

    public func add(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) throws {
        var chunks: [ActivationStoreFormat.Chunk] = []
        let raw = UnsafeRawBufferPointer(values)
        var start = 0
        repeat {
            let end = min(raw.count, start + ActivationStoreFormat.chunkBytes)
            let packed = LZ4.compress(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
            chunks.append(.init(offset: offset, length: packed.count, raw: end - start, xxh64: XXH64.hex(XXH64.hash(packed))))
            try write(Data(packed))
            start = end
        } while start < raw.count
        tensors.append(.init(name: name, shape: shape, dtype: "f32", chunks: chunks))
    }

    public func finish(model: String, modelPath: String, ids: [Int], route: String? = nil) throws {
        let index = ActivationStoreFormat.Index(model: model, modelPath: modelPath, ids: ids, tensors: tensors, route: route)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(index)
        let indexOffset = offset
        try write(json)
        var header = ActivationStoreFormat.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        put(ActivationStoreFormat.versionMajor); put(ActivationStoreFormat.versionMinor)
        put(UInt64(indexOffset)); put(UInt64(json.count)); put(UInt64(offset)); put(XXH64.hash([UInt8](json))); put(UInt64(0))
        put(XXH64.hash(header))
        try file.write(header, at: 0)
        try file.commit()
    }
}

/// Reads an activation store lazily: the index at open, each tensor's chunks when asked for.
public final class ActivationStoreReader: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    public let index: ActivationStoreFormat.Index
    private let byName: [String: Int]

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        (index, byName) = try Self.parse(file.all, path: path)
    }

    /// Parses and bounds-checks a whole activation store given as bytes (the fuzz targets call
    /// this directly): header and index checksums, every tensor's shape and chunks.
    public static func parse(_ all: UnsafeRawBufferPointer, path: String) throws -> (index: ActivationStoreFormat.Index, byName: [String: Int]) {
        guard all.count >= 64 else { throw PrismError("\(path): truncated activation store (no complete header)") }
        guard Array(all[0..<8]) == ActivationStoreFormat.magic else { throw PrismError("\(path): not an activation store (bad magic)") }
        func get<T: FixedWidthInteger>(_ off: Int, _: T.Type) -> T { T(littleEndian: all.loadUnaligned(fromByteOffset: off, as: T.self)) }
        guard XXH64.hash(UnsafeRawBufferPointer(rebasing: all[0..<56])) == get(56, UInt64.self) else {
            throw PrismError("\(path): activation store header is corrupt (checksum mismatch)")
        }
        guard get(8, UInt32.self) == ActivationStoreFormat.versionMajor else { throw PrismError("\(path): unsupported activation store version") }
        let indexOffset = get(16, UInt64.self), indexLength = get(24, UInt64.self)
        guard get(32, UInt64.self) == UInt64(all.count) else { throw PrismError("\(path): truncated activation store") }
        guard indexLength <= UInt64(ActivationStoreFormat.maxIndexBytes), indexOffset >= 64, indexOffset <= UInt64(all.count),
            indexLength <= UInt64(all.count) - indexOffset
        else {
            throw PrismError("\(path): activation store index is out of bounds")
        }
        let indexBytes = UnsafeRawBufferPointer(rebasing: all[Int(indexOffset)..<Int(indexOffset + indexLength)])
        guard XXH64.hash(indexBytes) == get(40, UInt64.self) else { throw PrismError("\(path): activation store index is corrupt") }
        let index: ActivationStoreFormat.Index
        do {
            index = try JSONDecoder().decode(ActivationStoreFormat.Index.self, from: Data(indexBytes))
        } catch {
            throw PrismError("\(path): activation store index is malformed")
        }
        var byName: [String: Int] = [:]
        var dataEnd = 64
        for (i, t) in index.tensors.enumerated() {
            guard t.dtype == "f32", let count = checkedElementCount(t.shape), count <= Int(1) << 36 else {
                throw PrismError("\(path): tensor \(t.name) has a bad dtype or shape")
            }
            var raw = 0
            for c in t.chunks {
                // Chunks follow one another in the data section, as the writer lays them out:
                // no chunk can be counted twice, so what the index claims is bounded by the file.
                guard c.offset >= dataEnd, c.length >= 0, c.raw >= 0, c.raw <= ActivationStoreFormat.chunkBytes,
                    c.offset <= Int(indexOffset), c.length <= Int(indexOffset) - c.offset
                else {
                    throw PrismError("\(path): tensor \(t.name) has a chunk out of bounds")
                }
                // LZ4 expands a block at most ~255-fold: a larger claim is corrupt, and refused
                // before anything of that size is allocated.
                guard c.raw <= c.length * 255 + 16 else {
                    throw PrismError("\(path): tensor \(t.name) has a chunk claiming \(c.raw) bytes from \(c.length)")
                }
                dataEnd = c.offset + c.length
                raw += c.raw
            }
            guard raw == count * 4 else { throw PrismError("\(path): tensor \(t.name) chunks hold \(raw) bytes, shape needs \(count * 4)") }
            byName[t.name] = i
        }
        return (index, byName)
    }

    public var names: [String] { index.tensors.map(\.name) }

    /// Decompresses one tensor, checking each chunk's checksum.
    public func tensor(_ name: String) throws -> (shape: [Int], values: [Float]) {
        guard let i = byName[name] else { throw PrismError("\(path): no activation named \(name)") }
        let t = index.tensors[i]
        return (t.shape, try Self.decode(t, from: file.all, path: path))
    }

    /// One tensor of a store that `parse` accepted, decompressed from `all`. `checksums: false`
    /// is for the fuzz target only (it lets mutated chunks reach the LZ4 decoder).
    public static func decode(
        _ t: ActivationStoreFormat.Tensor, from all: UnsafeRawBufferPointer, path: String,
        checksums: Bool = true
    ) throws -> [Float] {
        let name = t.name
        guard let count = checkedElementCount(t.shape) else { throw PrismError("\(path): tensor \(name) has a bad shape") }
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { dst in
            var at = 0
            for c in t.chunks {
                guard c.raw <= dst.count - at else { throw PrismError("\(path): activation \(name) has more data than its shape") }
                let src = UnsafeRawBufferPointer(rebasing: all[c.offset..<(c.offset + c.length)])
                guard !checksums || XXH64.hex(XXH64.hash(src)) == c.xxh64 else {
                    throw PrismError("\(path): activation \(name) is corrupt (checksum mismatch)")
                }
                try LZ4.decompress(src, originalSize: c.raw, into: UnsafeMutableRawBufferPointer(rebasing: dst[at..<(at + c.raw)]))
                at += c.raw
            }
        }
        return values
    }
}

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
        enum CodingKeys: String, CodingKey { case format, model, modelPath = "model_path", ids, tensors }
    }
}

/// Writes one prompt's activations as they are recorded, to `<path>.partial`, renamed on finish.
public final class ActivationStoreWriter {
    let path: String
    let temporary: String
    let handle: FileHandle
    var offset = 0
    var tensors: [ActivationStoreFormat.Tensor] = []
    var finished = false

    public init(path: String) throws {
        self.path = path
        temporary = path + ".partial"
        try? FileManager.default.removeItem(atPath: temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let h = FileHandle(forWritingAtPath: temporary) else {
            throw PrismError("cannot create \(temporary): check that the directory exists and is writable")
        }
        handle = h
        try write(Data(count: 64))
    }

    deinit {
        if !finished {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }

    func write(_ data: Data) throws {
        do { try handle.write(contentsOf: data) } catch { throw PrismError("writing \(temporary) failed: \(error.localizedDescription)") }
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

    public func finish(model: String, modelPath: String, ids: [Int]) throws {
        let index = ActivationStoreFormat.Index(model: model, modelPath: modelPath, ids: ids, tensors: tensors)
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
        do {
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: Data(header))
            try handle.synchronize()
            try handle.close()
        } catch {
            throw PrismError("writing \(temporary) failed: \(error.localizedDescription)")
        }
        try? FileManager.default.removeItem(atPath: path)
        guard rename(temporary, path) == 0 else { throw PrismError("cannot rename \(temporary) to \(path)") }
        finished = true
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
        let all = file.all
        guard file.size >= 64 else { throw PrismError("\(path): truncated activation store (no complete header)") }
        guard Array(all[0..<8]) == ActivationStoreFormat.magic else { throw PrismError("\(path): not an activation store (bad magic)") }
        func get<T: FixedWidthInteger>(_ off: Int, _: T.Type) -> T { T(littleEndian: all.loadUnaligned(fromByteOffset: off, as: T.self)) }
        guard XXH64.hash(UnsafeRawBufferPointer(rebasing: all[0..<56])) == get(56, UInt64.self) else {
            throw PrismError("\(path): activation store header is corrupt (checksum mismatch)")
        }
        guard get(8, UInt32.self) == ActivationStoreFormat.versionMajor else { throw PrismError("\(path): unsupported activation store version") }
        let indexOffset = get(16, UInt64.self), indexLength = get(24, UInt64.self)
        guard get(32, UInt64.self) == UInt64(file.size) else { throw PrismError("\(path): truncated activation store") }
        guard indexLength <= UInt64(ActivationStoreFormat.maxIndexBytes), indexOffset >= 64, indexOffset <= UInt64(file.size),
              indexLength <= UInt64(file.size) - indexOffset else {
            throw PrismError("\(path): activation store index is out of bounds")
        }
        let indexBytes = file.bytes(Int(indexOffset)..<Int(indexOffset + indexLength))
        guard XXH64.hash(indexBytes) == get(40, UInt64.self) else { throw PrismError("\(path): activation store index is corrupt") }
        do {
            index = try JSONDecoder().decode(ActivationStoreFormat.Index.self, from: Data(indexBytes))
        } catch {
            throw PrismError("\(path): activation store index is malformed")
        }
        var byName: [String: Int] = [:]
        for (i, t) in index.tensors.enumerated() {
            guard t.dtype == "f32", let count = checkedElementCount(t.shape), count <= Int(1) << 36 else {
                throw PrismError("\(path): tensor \(t.name) has a bad dtype or shape")
            }
            var raw = 0
            for c in t.chunks {
                guard c.offset >= 64, c.length >= 0, c.raw >= 0, c.raw <= ActivationStoreFormat.chunkBytes,
                      c.offset <= Int(indexOffset), c.length <= Int(indexOffset) - c.offset else {
                    throw PrismError("\(path): tensor \(t.name) has a chunk out of bounds")
                }
                raw += c.raw
            }
            guard raw == count * 4 else { throw PrismError("\(path): tensor \(t.name) chunks hold \(raw) bytes, shape needs \(count * 4)") }
            byName[t.name] = i
        }
        self.byName = byName
    }

    public var names: [String] { index.tensors.map(\.name) }

    /// Decompresses one tensor, checking each chunk's checksum.
    public func tensor(_ name: String) throws -> (shape: [Int], values: [Float]) {
        guard let i = byName[name] else { throw PrismError("\(path): no activation named \(name)") }
        let t = index.tensors[i]
        let count = t.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { dst in
            var at = 0
            for c in t.chunks {
                let src = file.bytes(c.offset..<(c.offset + c.length))
                guard XXH64.hex(XXH64.hash(src)) == c.xxh64 else { throw PrismError("\(path): activation \(name) is corrupt (checksum mismatch)") }
                try LZ4.decompress(src, originalSize: c.raw, into: UnsafeMutableRawBufferPointer(rebasing: dst[at..<(at + c.raw)]))
                at += c.raw
            }
        }
        return (t.shape, values)
    }
}

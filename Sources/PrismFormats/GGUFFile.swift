import Foundation
import PrismSupport

/// One tensor's entry in a GGUF file's tensor-info table, already checked against the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions as GGUF stores them: innermost (contiguous) first, 1 to 4 of them, each >= 1.
    public let dims: [Int]
    public let type: GGMLType
    /// Offset from the start of the data section, as stored (a multiple of the file's alignment).
    public let offset: Int
    /// Absolute byte range in the file.
    public let range: Range<Int>
    public let elementCount: Int

    /// Row-major (PyTorch) order: `dims` reversed, so a `[640, 262144]` GGUF embedding is `[262144, 640]`.
    public var shape: [Int] { dims.reversed() }
    public var byteCount: Int { range.count }
    /// Elements per row (`dims[0]`, a multiple of the type's block size) and the number of rows.
    public var rowLength: Int { dims[0] }
    public var rowCount: Int { elementCount / dims[0] }
}

/// What `GGUFFile.parse` finds in a GGUF file's header: everything but the tensor data.
public struct GGUFLayout: Sendable {
    public let version: Int
    /// Metadata keys in file order (`metadata` is keyed by them).
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment` or 32: the data section and every tensor offset are multiples of it.
    public let alignment: Int
    /// Absolute offset of the data section (0 when the file has no tensors and ends before it).
    public let dataStart: Int
}

/// A GGUF file (llama.cpp's model format, versions 2 and 3, little-endian), memory-mapped and
/// validated before any tensor is used: every count bounded by the file's size before anything is
/// allocated, every string valid UTF-8 inside the file, every tensor inside the file, aligned, of a
/// known ggml type, its rows whole blocks, and no two tensors overlapping. Any failure is a one-line
/// `PrismError` naming the path and what is wrong. Layout: docs/gguf.md in ggml.
public final class GGUFFile: Sendable {
    public let path: String
    public let file: MappedFile
    public let version: Int
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// In file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataStart: Int
    private let index: [String: Int]

    /// - Throws: `PrismError` when the file cannot be read or is not a valid GGUF file.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let layout = try Self.parse(file.all, path: path)
        version = layout.version
        metadataKeys = layout.metadataKeys
        metadata = layout.metadata
        tensors = layout.tensors
        alignment = layout.alignment
        dataStart = layout.dataStart
        index = Dictionary(uniqueKeysWithValues: layout.tensors.enumerated().map { ($1.name, $0) })
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's bytes in the mapping (valid while this file lives). `info` must be one of `tensors`.
    public func bytes(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer { file.bytes(info.range) }

    /// The whole tensor dequantized to f32, in file order (row-major `shape`).
    /// - Throws: `PrismError` "ggml type T is not supported (tensor NAME)" for types `GGMLDequantize` lacks.
    public func floats(of info: GGUFTensorInfo) throws -> [Float] {
        guard info.type.canDequantize else { throw PrismError("\(path): ggml type \(info.type) is not supported (tensor \(info.name))") }
        let raw = bytes(of: info)
        return try [Float](unsafeUninitializedCapacity: info.elementCount) { buf, n in
            if let src = raw.baseAddress, let dst = buf.baseAddress {
                try GGMLDequantize.rows(info.type, src, elements: info.elementCount, into: dst)
            }
            n = info.elementCount
        }
    }

    public static let defaultAlignment = 32
    /// Arrays nested deeper than this are refused (the format allows nesting; ggml itself refuses any).
    public static let maxArrayDepth = 8
    /// Metadata arrays longer than this are refused: a vocabulary is ~262k entries, and a hostile
    /// uint8 array would otherwise take 24 bytes of memory per byte of file.
    public static let maxArrayElements = 1 << 24

    /// Parses and validates a whole GGUF file given as bytes (the fuzz target calls this directly).
    /// - Throws: `PrismError` "PATH: what is wrong", one line.
    public static func parse(_ all: UnsafeRawBufferPointer, path: String) throws -> GGUFLayout {
        var c = GGUFCursor(all: all, path: path)
        let version = try readPreamble(&c)
        let tensorCount = try c.read(UInt64.self, "the tensor count")
        let kvCount = try c.read(UInt64.self, "the metadata count")
        // Bound both counts by the smallest entry each can have before reserving anything.
        guard tensorCount <= UInt64(all.count / 32) else {
            throw PrismError("\(path): truncated (header claims \(tensorCount) tensors, more than a file of \(all.count) bytes can hold)")
        }
        guard kvCount <= UInt64(all.count / 14) else {
            throw PrismError("\(path): truncated (header claims \(kvCount) metadata entries, more than a file of \(all.count) bytes can hold)")
        }
        let (keys, metadata) = try readMetadata(&c, count: Int(kvCount))
        let alignment = try readAlignment(metadata, path: path)
        var infos: [(name: String, dims: [Int], type: GGMLType, offset: UInt64)] = []
        infos.reserveCapacity(Int(tensorCount))
        var seen: [String: Int] = [:]
        for i in 0..<Int(tensorCount) {
            let info = try c.tensorInfo(i)
            if let first = seen.updateValue(i, forKey: info.name) {
                throw PrismError("\(path): duplicate tensor name \(info.name) (tensors \(first) and \(i))")
            }
            infos.append(info)
        }
        // The data section starts at the next multiple of the alignment after the tensor infos.
        let dataStart = tensorCount == 0 ? 0 : (c.pos + alignment - 1) / alignment * alignment
        let tensors = try infos.map { try checkTensor($0, dataStart: dataStart, alignment: alignment, fileSize: all.count, path: path) }
        try checkNoOverlap(tensors, path: path)
        return GGUFLayout(version: version, metadataKeys: keys, metadata: metadata, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }

    /// Magic and version; refuses v1 (32-bit counts, gone from ggml since 2023) and big-endian files by name.
    private static func readPreamble(_ c: inout GGUFCursor) throws -> Int {
        guard c.all.count >= 4 else { throw PrismError("\(c.path): not a GGUF file (\(c.all.count) bytes, too short for the magic)") }
        guard c.all[0] == 0x47, c.all[1] == 0x47, c.all[2] == 0x55, c.all[3] == 0x46 else {
            throw PrismError("\(c.path): not a GGUF file (bad magic)")
        }
        c.pos = 4
        let version = try c.read(UInt32.self, "the version")
        switch version {
        case 2, 3: return Int(version)
        case 1: throw PrismError("\(c.path): GGUF version 1 is not supported (only versions 2 and 3; re-convert the model with a current llama.cpp)")
        case 0x0200_0000, 0x0300_0000: throw PrismError("\(c.path): big-endian GGUF files are not supported")
        default: throw PrismError("\(c.path): GGUF version \(version) is not supported (only versions 2 and 3)")
        }
    }

    private static func readMetadata(_ c: inout GGUFCursor, count: Int) throws -> ([String], [String: GGUFValue]) {
        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        keys.reserveCapacity(count)
        for i in 0..<count {
            let key = try c.string("metadata key \(i)")
            guard !key.isEmpty else { throw PrismError("\(c.path): metadata key \(i) is empty") }
            guard values[key] == nil else { throw PrismError("\(c.path): duplicate metadata key \(key)") }
            let raw = try c.read(UInt32.self, "metadata \(key) type")
            guard let type = GGUFValueType(rawValue: raw) else { throw PrismError("\(c.path): metadata \(key) has unknown value type \(raw)") }
            values[key] = try c.value(type, key: key, depth: 0)
            keys.append(key)
        }
        return (keys, values)
    }

    /// `general.alignment`: a uint32 (as ggml requires), a non-zero power of two; 32 when absent.
    private static func readAlignment(_ metadata: [String: GGUFValue], path: String) throws -> Int {
        guard let v = metadata["general.alignment"] else { return defaultAlignment }
        guard case .uint32(let a) = v else { throw PrismError("\(path): metadata general.alignment has type \(v.typeDescription), expected uint32") }
        guard a > 0, a & (a - 1) == 0 else { throw PrismError("\(path): metadata general.alignment = \(a) is not a power of two") }
        return Int(a)
    }

    private static func checkTensor(
        _ t: (name: String, dims: [Int], type: GGMLType, offset: UInt64), dataStart: Int, alignment: Int, fileSize: Int, path: String
    ) throws -> GGUFTensorInfo {
        guard let count = checkedElementCount(t.dims) else {
            throw PrismError("\(path): tensor \(t.name) has dims \(t.dims) whose element count overflows")
        }
        let block = t.type.blockSize
        guard t.dims[0] % block == 0 else {
            throw PrismError("\(path): tensor \(t.name) has rows of \(t.dims[0]) elements, not a multiple of \(t.type)'s block of \(block)")
        }
        let (bytes, o1) = (count / block).multipliedReportingOverflow(by: t.type.typeSize)
        guard !o1 else { throw PrismError("\(path): tensor \(t.name) has dims \(t.dims) whose byte size overflows") }
        guard t.offset % UInt64(alignment) == 0 else {
            throw PrismError("\(path): tensor \(t.name) offset \(t.offset) is not a multiple of the alignment \(alignment)")
        }
        // Compare in UInt64 so an offset near 2^64 cannot wrap.
        let start = UInt64(dataStart).addingReportingOverflow(t.offset)
        let end = start.partialValue.addingReportingOverflow(UInt64(bytes))
        guard !start.overflow, !end.overflow, end.partialValue <= UInt64(fileSize) else {
            let a = start.overflow ? "\(dataStart) + \(t.offset)" : "\(start.partialValue)"
            let b = start.overflow || end.overflow ? "(overflow)" : "\(end.partialValue)"
            throw PrismError("\(path): tensor \(t.name) (bytes \(a)..<\(b)) is outside the file (\(fileSize) bytes)")
        }
        let range = Int(start.partialValue)..<Int(end.partialValue)
        return GGUFTensorInfo(name: t.name, dims: t.dims, type: t.type, offset: Int(t.offset), range: range, elementCount: count)
    }

    /// Tensors may not overlap: a hostile file could otherwise alias one tensor's bytes as another's.
    private static func checkNoOverlap(_ tensors: [GGUFTensorInfo], path: String) throws {
        let sorted = tensors.sorted { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw PrismError("\(path): tensors \(a.name) (bytes \(a.range)) and \(b.name) (bytes \(b.range)) overlap")
        }
    }
}

import Foundation
import PrismSupport

/// The converted model file (`.prism`), documented in docs/FORMAT.md:
/// a 64-byte header, aligned tensor data, a JSON directory, everything little-endian and
/// every byte covered by an XXH64 checksum (header, directory, each tensor part, the
/// tokenizer) or required to be zero (alignment padding).
public enum ModelFileFormat {
    public static let magic: [UInt8] = Array("PRISMGMA".utf8)
    public static let versionMajor: UInt32 = 1
    public static let versionMinor: UInt32 = 0
    public static let headerSize = 64
    /// Alignment of every part: SIMD loads of 64 bytes never straddle a cache line.
    public static let alignment = 64
    /// Parts of at least 1 MiB start on a 64 KiB boundary, so releasing one layer's pages
    /// never drops a neighbour's (for both 4 KiB and 64 KiB pages).
    public static let largeAlignment = 64 * 1024
    public static let largePart = 1 << 20
    public static let maxDirectoryBytes = 64 << 20

    /// Fixed header at offset 0.
    public struct Header: Equatable {
        public var versionMajor: UInt32 = ModelFileFormat.versionMajor
        public var versionMinor: UInt32 = ModelFileFormat.versionMinor
        public var directoryOffset: UInt64
        public var directoryLength: UInt64
        public var fileLength: UInt64
        public var directoryChecksum: UInt64

        public init(directoryOffset: UInt64, directoryLength: UInt64, fileLength: UInt64, directoryChecksum: UInt64) {
            self.directoryOffset = directoryOffset
            self.directoryLength = directoryLength
            self.fileLength = fileLength
            self.directoryChecksum = directoryChecksum
        }

        /// magic[8] major:u32 minor:u32 dirOffset:u64 dirLength:u64 fileLength:u64 dirXXH64:u64 reserved:u64 headerXXH64:u64
        public func encode() -> [UInt8] {
            var b = ModelFileFormat.magic
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
            put(versionMajor); put(versionMinor); put(directoryOffset); put(directoryLength); put(fileLength)
            put(directoryChecksum); put(UInt64(0))
            put(XXH64.hash(b))
            return b
        }

        public static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
            guard bytes.count >= headerSize else { throw PrismError("\(path): truncated model file (no complete header)") }
            guard Array(bytes[0..<8]) == magic else {
                // A GGUF is the file users most often give here: say what to do with it.
                if Array(bytes[0..<4]) == Array("GGUF".utf8) {
                    throw PrismError("\(path) is a GGUF file, not a converted model: convert it first (prism convert \(path) -o MODEL.prism)")
                }
                throw PrismError("\(path): not a logit-prisms model file (bad magic)")
            }
            func get<T: FixedWidthInteger>(_ off: Int, _: T.Type) -> T { T(littleEndian: bytes.loadUnaligned(fromByteOffset: off, as: T.self)) }
            let stored = get(56, UInt64.self)
            guard XXH64.hash(UnsafeRawBufferPointer(rebasing: bytes[0..<56])) == stored else {
                throw PrismError("\(path): model file header is corrupt (checksum mismatch)")
            }
            let major = get(8, UInt32.self)
            guard major == ModelFileFormat.versionMajor else {
                throw PrismError(
                    "\(path): model file version \(major).\(get(12, UInt32.self)) is not readable by this prism (reads \(ModelFileFormat.versionMajor).x)")
            }
            guard get(48, UInt64.self) == 0 else { throw PrismError("\(path): reserved header field is not zero") }
            var h = Header(
                directoryOffset: get(16, UInt64.self), directoryLength: get(24, UInt64.self),
                fileLength: get(32, UInt64.self), directoryChecksum: get(40, UInt64.self))
            h.versionMinor = get(12, UInt32.self)
            return h
        }
    }

    /// Where one part of the file lives and what it hashes to.
    public struct Part: Codable, Equatable, Sendable {
        public var offset: Int
        public var length: Int
        public var xxh64: String
        public init(offset: Int, length: Int, xxh64: String) {
            self.offset = offset
            self.length = length
            self.xxh64 = xxh64
        }
    }

    /// How a tensor is encoded. Readers refuse encodings they do not know, by name.
    public enum Encoding: String, Codable, Sendable {
        case f32, bf16, f16
        /// int8 quants `[rows, cols]` (part "data") and an f16 scale per block of `block`
        /// consecutive inputs of a row, `[rows, ceil(cols / block)]` (part "scales").
        case q8
    }

    /// Quantization error measured at conversion, against the source values.
    public struct QuantError: Codable, Equatable, Sendable {
        public var rmse: Double
        public var maxAbs: Double
        /// rmse / rms of the source weights.
        public var relRMSE: Double
        public init(rmse: Double, maxAbs: Double, relRMSE: Double) {
            self.rmse = rmse
            self.maxAbs = maxAbs
            self.relRMSE = relRMSE
        }
        enum CodingKeys: String, CodingKey { case rmse, maxAbs = "max_abs", relRMSE = "rel_rmse" }
    }

    public struct TensorEntry: Codable, Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var encoding: Encoding
        /// Block length along the input dimension (q8 only).
        public var block: Int?
        public var sourceDType: String
        public var parts: [String: Part]
        public var quantError: QuantError?
        public init(name: String, shape: [Int], encoding: Encoding, block: Int?, sourceDType: String, parts: [String: Part], quantError: QuantError?) {
            self.name = name
            self.shape = shape
            self.encoding = encoding
            self.block = block
            self.sourceDType = sourceDType
            self.parts = parts
            self.quantError = quantError
        }
        enum CodingKeys: String, CodingKey { case name, shape, encoding, block, sourceDType = "source_dtype", parts, quantError = "quant_error" }
    }

    public struct Directory: Codable, Equatable, Sendable {
        public var format: String = "logit-prisms model"
        public var architecture: String
        /// The checkpoint's config.json, verbatim.
        public var config: String
        public var tokenizer: Part?
        public var converter: String
        public var weights: String
        public var tensors: [TensorEntry]
        public init(architecture: String, config: String, tokenizer: Part?, converter: String, weights: String, tensors: [TensorEntry]) {
            self.architecture = architecture
            self.config = config
            self.tokenizer = tokenizer
            self.converter = converter
            self.weights = weights
            self.tensors = tensors
        }
    }

    /// The byte length each part of an entry must have.
    public static func expectedPartLengths(_ t: TensorEntry) throws -> [String: Int] {
        guard let count = checkedElementCount(t.shape) else {
            throw PrismError("tensor \(t.name): bad shape \(t.shape)")
        }
        guard count < Int(1) << 40 else { throw PrismError("tensor \(t.name): shape \(t.shape) too large") }
        switch t.encoding {
        case .f32: return ["data": count * 4]
        case .bf16, .f16: return ["data": count * 2]
        case .q8:
            guard t.shape.count == 2 else { throw PrismError("tensor \(t.name): q8 needs a matrix, shape is \(t.shape)") }
            guard let block = t.block, block > 0, block % 16 == 0, block <= 4096 else {
                throw PrismError("tensor \(t.name): q8 block size \(t.block.map(String.init) ?? "missing") is invalid")
            }
            let blocks = (t.shape[1] + block - 1) / block
            return ["data": count, "scales": t.shape[0] * blocks * 2]
        }
    }
}

import Foundation
import PrismSupport

/// One `.safetensors` file, memory-mapped, its header validated before any tensor is used:
/// 8-byte little-endian header length N, N bytes of JSON, then the data; every entry's
/// `data_offsets` are relative to the end of the header.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Headers larger than this are refused (gemma-2b's are ~20 KB; the reference library caps at 100 MB).
    public static let maxHeaderBytes = 100 << 20

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Absolute byte range in the file.
        public let range: Range<Int>
    }

    public let path: String
    public let file: MappedFile
    public let entries: [String: Entry]
    public let metadata: [String: String]

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        let name = PathNames.lastComponent(of: path)
        (entries, metadata) = try Self.parseHeader(file.all, name: name)
    }

    /// Parses and validates the header of a whole safetensors file given as bytes (the fuzz
    /// targets call this directly): every entry's dtype, shape and offsets are checked against
    /// the file's size, with overflow checks, and tensors may not overlap.
    public static func parseHeader(_ all: UnsafeRawBufferPointer, name: String) throws -> (entries: [String: Entry], metadata: [String: String]) {
        guard all.count >= 8 else { throw PrismError("\(name): truncated safetensors file (\(all.count) bytes, no header)") }
        let n64 = all.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard n64 <= UInt64(Self.maxHeaderBytes) else {
            throw PrismError("\(name): safetensors header length \(n64) exceeds the \(Self.maxHeaderBytes)-byte cap")
        }
        let n = Int(n64)
        guard 8 + n <= all.count else {
            throw PrismError("\(name): truncated safetensors file: header says \(n) bytes, file has \(all.count - 8) after the length")
        }
        let headerData = Data(UnsafeRawBufferPointer(rebasing: all[8..<(8 + n)]))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw PrismError("\(name): safetensors header is not valid JSON")
        }
        guard let object = json as? [String: Any] else { throw PrismError("\(name): safetensors header is not a JSON object") }
        let dataStart = 8 + n
        let dataSize = all.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in object {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw PrismError("\(name): __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw PrismError("\(name): __metadata__ value for \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries[key] = try Self.parseEntry(key, value, file: name, dataStart: dataStart, dataSize: dataSize)
        }
        // Tensors may not overlap: a hostile header could otherwise alias one tensor's bytes as another's.
        // Empty tensors are left out: one between two overlapping tensors would hide their overlap.
        let sorted = entries.values.filter { !$0.range.isEmpty }.sorted {
            ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound)
        }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw PrismError("\(name): tensors \(a.name) and \(b.name) overlap in the data section")
        }
        return (entries, metadata)
    }

    private static func parseEntry(_ key: String, _ value: Any, file: String, dataStart: Int, dataSize: Int) throws -> Entry {
        guard let e = value as? [String: Any] else { throw PrismError("\(file): tensor \(key): entry is not an object") }
        guard let dt = e["dtype"] as? String, let dtype = DType(rawValue: dt) else {
            throw PrismError("\(file): tensor \(key): unknown dtype \(e["dtype"].map { "\($0)" } ?? "(missing)")")
        }
        guard let shapeAny = e["shape"] as? [Any] else { throw PrismError("\(file): tensor \(key): missing shape") }
        var shape: [Int] = []
        for d in shapeAny {
            guard let dim = jsonInteger(d), dim >= 0 else {
                throw PrismError("\(file): tensor \(key): shape \(shapeAny) is not a list of non-negative integers")
            }
            shape.append(Int(dim))
        }
        guard let offs = e["data_offsets"] as? [Any], offs.count == 2,
            let b = jsonInteger(offs[0]), let en = jsonInteger(offs[1]),
            b >= 0, en >= b
        else {
            throw PrismError("\(file): tensor \(key): data_offsets must be [begin, end] with 0 <= begin <= end")
        }
        guard en <= Int64(dataSize) else {
            throw PrismError("\(file): tensor \(key): data_offsets [\(b), \(en)] out of bounds (data section has \(dataSize) bytes)")
        }
        guard let count = checkedElementCount(shape), case let (bytes, o) = count.multipliedReportingOverflow(by: dtype.byteSize), !o else {
            throw PrismError("\(file): tensor \(key): shape \(shape) overflows")
        }
        guard Int64(bytes) == en - b else {
            throw PrismError("\(file): tensor \(key): shape \(shape) x \(dtype.rawValue) is \(bytes) bytes but data_offsets span \(en - b)")
        }
        return Entry(name: key, dtype: dtype, shape: shape, range: (dataStart + Int(b))..<(dataStart + Int(en)))
    }

    public func view(_ name: String) -> TensorView? {
        guard let e = entries[name] else { return nil }
        return TensorView(name: name, dtype: e.dtype, shape: e.shape, bytes: file.bytes(e.range), owner: file)
    }
}

/// A JSON integer (not a float, not a boolean) that fits in 62 bits; nil otherwise. Reading
/// `int64Value` of an arbitrary JSON number would trap or wrap on 1e300 or 2^70.
func jsonInteger(_ value: Any) -> Int64? {
    guard let num = value as? NSNumber, !isJSONFloat(num) else { return nil }
    let t = String(cString: num.objCType)
    guard t != "c", t != "B" else { return nil }
    let d = num.doubleValue
    guard d.isFinite, d.magnitude < 4e18 else { return nil }
    return num.int64Value
}

/// A JSON number written with a fraction or exponent (`3.0`) is not a dimension.
@inline(__always) func isJSONFloat(_ n: NSNumber) -> Bool {
    let t = String(cString: n.objCType)
    return t == "d" || t == "f"
}

import PrismSupport

/// Reads a GGUF header front to back. Every read is bounds-checked first: one that would run past
/// the end throws "PATH: truncated (WHAT runs past the end)", naming the field being read.
struct GGUFCursor {
    let all: UnsafeRawBufferPointer
    let path: String
    var pos = 0

    var remaining: Int { all.count - pos }

    func truncated(_ what: String) -> PrismError { PrismError("\(path): truncated (\(what) runs past the end)") }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { throw truncated(what()) }
        let v = all.loadUnaligned(fromByteOffset: pos, as: T.self)
        pos += n
        return T(littleEndian: v)
    }

    /// A `gguf_string`: uint64 length, then that many bytes of UTF-8 (no terminator).
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try read(UInt64.self, what())
        guard n <= UInt64(remaining) else { throw truncated(what()) }
        let bytes = UnsafeRawBufferPointer(rebasing: all[pos..<(pos + Int(n))])
        // Decoding repairs bad UTF-8 with U+FFFD; a repaired string differs from the bytes.
        let s = String(decoding: bytes, as: UTF8.self)
        guard s.utf8.count == bytes.count, s.utf8.elementsEqual(bytes) else { throw PrismError("\(path): \(what()) is not valid UTF-8") }
        pos += Int(n)
        return s
    }

    /// One metadata value of `type`; arrays recurse up to `GGUFFile.maxArrayDepth` levels.
    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "metadata \(key) value"))
        case .int8: return .int8(try read(Int8.self, "metadata \(key) value"))
        case .uint16: return .uint16(try read(UInt16.self, "metadata \(key) value"))
        case .int16: return .int16(try read(Int16.self, "metadata \(key) value"))
        case .uint32: return .uint32(try read(UInt32.self, "metadata \(key) value"))
        case .int32: return .int32(try read(Int32.self, "metadata \(key) value"))
        case .uint64: return .uint64(try read(UInt64.self, "metadata \(key) value"))
        case .int64: return .int64(try read(Int64.self, "metadata \(key) value"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "metadata \(key) value")))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "metadata \(key) value")))
        case .bool:
            let b = try read(UInt8.self, "metadata \(key) value")
            guard b <= 1 else { throw PrismError("\(path): metadata \(key) has bool value \(b) (not 0 or 1)") }
            return .bool(b == 1)
        case .string: return .string(try string("metadata \(key) value"))
        case .array: return try array(key: key, depth: depth)
        }
    }

    /// An array: uint32 element type, uint64 count, the elements. The count is bounded by the
    /// bytes left (each element takes at least `minimumBytes`) before any memory is reserved.
    private mutating func array(key: String, depth: Int) throws -> GGUFValue {
        guard depth < GGUFFile.maxArrayDepth else {
            throw PrismError("\(path): metadata \(key) nests arrays more than \(GGUFFile.maxArrayDepth) deep")
        }
        let raw = try read(UInt32.self, "metadata \(key) array type")
        guard let type = GGUFValueType(rawValue: raw) else { throw PrismError("\(path): metadata \(key) is an array of unknown value type \(raw)") }
        let n = try read(UInt64.self, "metadata \(key) array length")
        guard n <= UInt64(remaining / type.minimumBytes) else {
            throw PrismError("\(path): truncated (metadata \(key) claims \(n) \(type) elements, more than the \(remaining) bytes left can hold)")
        }
        guard n <= UInt64(GGUFFile.maxArrayElements) else {
            throw PrismError("\(path): metadata \(key) has \(n) elements, more than the \(GGUFFile.maxArrayElements) allowed")
        }
        var items: [GGUFValue] = []
        items.reserveCapacity(Int(n))
        for _ in 0..<Int(n) { items.append(try value(type, key: key, depth: depth + 1)) }
        return .array(type, items)
    }

    /// One tensor info: name, uint32 n_dims (1...4), n_dims x uint64 dims (innermost first, each
    /// >= 1), uint32 ggml type, uint64 offset. Checks against the data section come later.
    mutating func tensorInfo(_ i: Int) throws -> (name: String, dims: [Int], type: GGMLType, offset: UInt64) {
        let name = try string("tensor info \(i)")
        guard !name.isEmpty else { throw PrismError("\(path): tensor \(i) has an empty name") }
        let n = try read(UInt32.self, "tensor \(name) dims")
        guard (1...4).contains(n) else { throw PrismError("\(path): tensor \(name) has \(n) dimensions (expected 1 to 4)") }
        var dims: [Int] = []
        for _ in 0..<n {
            let d = try read(UInt64.self, "tensor \(name) dims")
            guard d >= 1, d <= UInt64(Int.max) else { throw PrismError("\(path): tensor \(name) has dimension \(d) (must be positive)") }
            dims.append(Int(d))
        }
        let rawType = try read(UInt32.self, "tensor \(name) type")
        guard let type = GGMLType(rawValue: rawType) else { throw PrismError("\(path): tensor \(name) has unknown ggml type \(rawType)") }
        let offset = try read(UInt64.self, "tensor \(name) offset")
        return (name, dims, type, offset)
    }
}

import PrismSupport

/// The type tag of a GGUF metadata value (`gguf_type`, a `uint32` in the file).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes a value of this type takes at least in the file: bounds an array's element
    /// count by the bytes left before anything is allocated.
    var minimumBytes: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8  // a string is at least its length
        case .array: return 12  // element type + count
        }
    }
}

/// One GGUF metadata value. Arrays keep their element type, so an empty array still says
/// what it holds; elements of a nested array are `.array` values themselves.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// "uint32", "string", "array of float32" (for messages).
    public var typeDescription: String {
        if case .array(let t, _) = self { return "array of \(t)" }
        return "\(type)"
    }

    /// The value as an integer when it is one of the eight integer types and fits in `Int`.
    public var integer: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a floating-point number when it is `float32` or `float64`.
    public var floatingPoint: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return nil
        }
    }
}

/// Typed reads of a GGUF file's metadata. Each throws a one-line `PrismError` naming the file
/// and key when the key is missing or its value has another type; the `...IfPresent` variants
/// return nil for a missing key but still throw on a wrong type.
extension GGUFFile {
    /// An integer of any of the eight integer types. - Throws: missing, not an integer, or a uint64 above `Int.max`.
    public func int(_ key: String) throws -> Int { try required(key, intIfPresent(key)) }
    public func intIfPresent(_ key: String) throws -> Int? {
        try typed(key, expected: "an integer") { v in
            if case .uint64(let u) = v, u > UInt64(Int.max) { throw PrismError("\(path): metadata \(key) = \(u) is too large") }
            return v.integer
        }
    }

    /// A `float32` or `float64` value (as Double: a float32 converts exactly).
    public func float(_ key: String) throws -> Double { try required(key, floatIfPresent(key)) }
    public func floatIfPresent(_ key: String) throws -> Double? { try typed(key, expected: "a float") { $0.floatingPoint } }

    public func bool(_ key: String) throws -> Bool { try required(key, boolIfPresent(key)) }
    public func boolIfPresent(_ key: String) throws -> Bool? {
        try typed(key, expected: "a bool") { if case .bool(let b) = $0 { return b } else { return nil } }
    }

    public func string(_ key: String) throws -> String { try required(key, stringIfPresent(key)) }
    public func stringIfPresent(_ key: String) throws -> String? {
        try typed(key, expected: "a string") { if case .string(let s) = $0 { return s } else { return nil } }
    }

    /// An array of strings (a vocabulary, `general.tags`).
    public func stringArray(_ key: String) throws -> [String] { try required(key, stringArrayIfPresent(key)) }
    public func stringArrayIfPresent(_ key: String) throws -> [String]? {
        try typedArray(key, expected: "an array of strings") { if case .string(let s) = $0 { return s } else { return nil } }
    }

    /// An array of `float32` or `float64` (float64 elements are rounded to Float).
    public func floatArray(_ key: String) throws -> [Float] { try required(key, floatArrayIfPresent(key)) }
    public func floatArrayIfPresent(_ key: String) throws -> [Float]? {
        try typedArray(key, expected: "an array of floats") { $0.floatingPoint.map(Float.init) }
    }

    /// An array of any integer type (each element must fit in Int).
    public func intArray(_ key: String) throws -> [Int] { try required(key, intArrayIfPresent(key)) }
    public func intArrayIfPresent(_ key: String) throws -> [Int]? {
        try typedArray(key, expected: "an array of integers") { $0.integer }
    }

    private func required<T>(_ key: String, _ value: T?) throws -> T {
        guard let value else { throw PrismError("\(path): metadata \(key) is missing") }
        return value
    }

    private func typed<T>(_ key: String, expected: String, _ convert: (GGUFValue) throws -> T?) throws -> T? {
        guard let v = metadata[key] else { return nil }
        guard let t = try convert(v) else { throw PrismError("\(path): metadata \(key) has type \(v.typeDescription), expected \(expected)") }
        return t
    }

    private func typedArray<T>(_ key: String, expected: String, _ convert: (GGUFValue) -> T?) throws -> [T]? {
        try typed(key, expected: expected) { v -> [T]? in
            guard case .array(_, let items) = v else { return nil }
            var out: [T] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard let t = convert(item) else {
                    throw PrismError("\(path): metadata \(key) element \(i) has type \(item.typeDescription), expected \(expected)")
                }
                out.append(t)
            }
            return out
        }
    }
}

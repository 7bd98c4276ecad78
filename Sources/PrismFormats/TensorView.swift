import PrismSupport

/// A zero-copy view of one stored tensor. It keeps the file it points into alive.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer
    /// The mapping `bytes` points into (kept alive by this view).
    public let owner: AnyObject
    /// A GGUF tensor stored in ggml blocks (`dtype` is then `.u8`, the raw bytes): read it
    /// through `GGMLDequantize`, a row (a multiple of its block size) at a time.
    public let quantization: GGMLType?

    public init(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject, quantization: GGMLType? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
        self.quantization = quantization
    }

    /// The byte offset of element `i` (for a quantized tensor, `i` must start a block).
    public func byteOffset(ofElement i: Int) -> Int {
        guard let q = quantization else { return i * dtype.byteSize }
        return i / q.blockSize * q.typeSize
    }

    /// The source's type as its format spells it (`BF16`, `Q4_K`).
    public var sourceTypeName: String { quantization?.name ?? dtype.rawValue }

    public var elementCount: Int { shape.reduce(1, *) }

    /// Throws unless the tensor has exactly `expected` as its shape.
    public func requireShape(_ expected: [Int]) throws {
        guard shape == expected else {
            throw PrismError("tensor \(name) has shape \(shape), expected \(expected)")
        }
    }

    /// Element `i` widened to Float (f32, f16, bf16).
    @inlinable
    public func float(at i: Int) -> Float {
        switch dtype {
        case .f32: return bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        case .bf16: return Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16)
        case .f16: return Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        default: return .nan
        }
    }

    /// The whole tensor as f32 (for small tensors such as norm weights).
    public func floats() throws -> [Float] {
        guard dtype.isSupportedFloat else {
            throw PrismError("tensor \(name) has dtype \(dtype.rawValue); expected F32, F16 or BF16")
        }
        return (0..<elementCount).map { float(at: $0) }
    }
}

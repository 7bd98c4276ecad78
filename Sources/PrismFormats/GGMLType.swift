/// A ggml tensor type, as a GGUF tensor info stores it (`uint32`). Case names are spelled as
/// ggml spells them (ggml.h `GGML_TYPE_*`), so messages and `inspect` match llama.cpp's tools.
/// Ids 4, 5 (Q4_2, Q4_3), 31-33 and 36-38 (repacked layouts) were removed from ggml and are
/// not valid in a GGUF file; they are refused as unknown.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9
    case Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15
    case IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23
    case I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30
    case TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41, Q2_0 = 42

    /// The name ggml prints (`Q4_K`, `BF16`): the case's own name, which `"\(type)"` gives too.
    public var name: String { String(describing: self) }

    /// Elements per block: 1 for the plain types, 32 for the legacy quants, 256 (QK_K) for the k- and i-quants.
    public var blockSize: Int { Self.layout(self).elements }

    /// Bytes per block (ggml's `type_size`): a tensor of n elements takes n / blockSize * typeSize bytes.
    public var typeSize: Int { Self.layout(self).bytes }

    /// Whether `GGMLDequantize` can turn this type into f32.
    public var canDequantize: Bool {
        switch self {
        case .F32, .F16, .BF16, .Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K: return true
        default: return false
        }
    }

    /// (elements, bytes) per block, from ggml-common.h's block structs (QK_K = 256).
    private static func layout(_ t: GGMLType) -> (elements: Int, bytes: Int) {
        switch t {
        case .F32, .I32: return (1, 4)
        case .F16, .BF16, .I16: return (1, 2)
        case .I8: return (1, 1)
        case .I64, .F64: return (1, 8)
        case .Q4_0: return (32, 2 + 16)  // f16 d, 32 x 4 bits
        case .Q4_1: return (32, 4 + 16)  // f16 d, f16 m, 32 x 4 bits
        case .Q5_0: return (32, 2 + 4 + 16)  // f16 d, 32 high bits, 32 x 4 low bits
        case .Q5_1: return (32, 4 + 4 + 16)
        case .Q8_0: return (32, 2 + 32)  // f16 d, 32 x int8
        case .Q8_1: return (32, 4 + 32)  // f16 d, f16 s, 32 x int8
        case .Q2_K: return (256, 16 + 64 + 4)  // 16 scale/min nibbles, 256 x 2 bits, f16 d, dmin
        case .Q3_K: return (256, 32 + 64 + 12 + 2)  // high-bit mask, 256 x 2 low bits, 16 x 6-bit scales, f16 d
        case .Q4_K: return (256, 4 + 12 + 128)  // f16 d, dmin, 8+8 x 6-bit scales/mins, 256 x 4 bits
        case .Q5_K: return (256, 4 + 12 + 32 + 128)
        case .Q6_K: return (256, 128 + 64 + 16 + 2)  // 4 low bits, 2 high bits, 16 x int8 scales, f16 d
        case .Q8_K: return (256, 4 + 256 + 32)  // f32 d, 256 x int8, 16 x int16 sums
        case .IQ2_XXS: return (256, 2 + 64)
        case .IQ2_XS: return (256, 2 + 64 + 8)
        case .IQ3_XXS: return (256, 2 + 96)
        case .IQ1_S: return (256, 2 + 32 + 16)
        case .IQ4_NL: return (32, 2 + 16)
        case .IQ3_S: return (256, 2 + 64 + 8 + 32 + 4)
        case .IQ2_S: return (256, 2 + 64 + 8 + 8)
        case .IQ4_XS: return (256, 2 + 2 + 4 + 128)
        case .IQ1_M: return (256, 32 + 16 + 8)
        case .TQ1_0: return (256, 48 + 4 + 2)
        case .TQ2_0: return (256, 64 + 2)
        case .MXFP4: return (32, 1 + 16)
        case .NVFP4: return (64, 4 + 32)
        case .Q1_0: return (128, 2 + 16)
        case .Q2_0: return (64, 2 + 16)
        }
    }
}

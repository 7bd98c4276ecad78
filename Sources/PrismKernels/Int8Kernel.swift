import CPrismKernels

/// Which instruction set the int8 loops use (the int8 x int8 products, activation quantization,
/// the dequantizing product, the pull-back and GELU). A value passed down with each call, default
/// `.best`: no process-wide setting, so runs (or tests) that want different kernels can share a
/// model and run at the same time.
///
/// Every kernel equals `.portable` bit for bit on the prompt products (see `prism_q8q8.h`); the
/// others agree with it to float rounding.
public enum Int8Kernel: CaseIterable, Comparable, Sendable, CustomStringConvertible {
    case portable
    case avx2
    /// AVX-VNNI (vpdpbusd on 256-bit registers).
    case avxVNNI
    /// AVX512-VNNI with AVX512VL (vpdpbusd, 256-bit form).
    case avx512VNNI
    /// aarch64 Advanced SIMD (armv8.0: smull + sadalp).
    case neon
    /// aarch64 with the dot-product extension (armv8.2 sdot).
    case neonDotProd

    /// The best kernel this CPU supports (cpuid on x86, HWCAP on aarch64; once per process).
    public static let best = Int8Kernel(code: prism_best_kernel())

    /// The kernels known to run on this CPU: the portable loop, AVX2 where the CPU has it, NEON on
    /// aarch64, and the best. Kernels between those and the best are not assumed (a CPU with
    /// AVX512-VNNI may lack AVX-VNNI). The x86 and aarch64 kernels are two families, ordered
    /// within each; a CPU runs one.
    public static var runnable: [Int8Kernel] {
        allCases.filter { $0 == .portable || $0 == best || $0 == baseline }
    }

    /// The vector kernel every CPU of the best kernel's family has: AVX2 (x86, when the best is
    /// at least that) or NEON (aarch64); nil where only the portable loop runs.
    private static var baseline: Int8Kernel? {
        switch best {
        case .portable: return nil
        case .avx2, .avxVNNI, .avx512VNNI: return .avx2
        case .neon, .neonDotProd: return .neon
        }
    }

    /// The kernel this one runs as here: itself when runnable, else the best runnable kernel below
    /// it (one of `runnable`), so asking for a kernel the CPU lacks never executes an unknown
    /// instruction; a kernel of the other family runs as the portable loop (below the family's
    /// first kernel) on aarch64, as the best on x86 (above its last). No allocation: it is taken
    /// on every product.
    public var runnableHere: Int8Kernel {
        if self >= Self.best { return Self.best }
        guard self != .portable, let baseline = Self.baseline, self >= baseline else { return .portable }
        return baseline
    }

    /// The C library's code for it (`PRISM_KERNEL_*`), for the kernel it runs as here.
    public var code: Int32 {
        switch runnableHere {
        case .portable: return Int32(PRISM_KERNEL_PORTABLE)
        case .avx2: return Int32(PRISM_KERNEL_AVX2)
        case .avxVNNI: return Int32(PRISM_KERNEL_AVXVNNI)
        case .avx512VNNI: return Int32(PRISM_KERNEL_AVX512VNNI)
        case .neon: return Int32(PRISM_KERNEL_NEON)
        case .neonDotProd: return Int32(PRISM_KERNEL_NEON_DOTPROD)
        }
    }

    /// The kernel for a C code; unknown codes are the portable loop.
    public init(code: Int32) {
        switch Int(code) {
        case PRISM_KERNEL_NEON_DOTPROD: self = .neonDotProd
        case PRISM_KERNEL_NEON: self = .neon
        case PRISM_KERNEL_AVX512VNNI: self = .avx512VNNI
        case PRISM_KERNEL_AVXVNNI: self = .avxVNNI
        case PRISM_KERNEL_AVX2: self = .avx2
        default: self = .portable
        }
    }

    /// As printed by `prism bench` and the tests: "portable", "avx2", "avx-vnni", "avx512-vnni",
    /// "neon", "neon-dotprod".
    public var name: String {
        switch self {
        case .portable: return "portable"
        case .avx2: return "avx2"
        case .avxVNNI: return "avx-vnni"
        case .avx512VNNI: return "avx512-vnni"
        case .neon: return "neon"
        case .neonDotProd: return "neon-dotprod"
        }
    }

    public var description: String { name }
}

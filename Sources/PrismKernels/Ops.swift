import CPrismKernels
import Foundation

/// The element-wise and per-row operations of the Gemma forward pass, in fp32.
public enum Ops {
    /// Returns `1 / sqrt(mean(x^2) + eps)` for one row; accumulated in Double so the
    /// recorded scale is as exact as fp32 can hold it.
    @inlinable
    public static func rmsScale(_ x: UnsafePointer<Float>, count: Int, eps: Float) -> Float {
        var s: Double = 0
        for i in 0..<count { let v = Double(x[i]); s += v * v }
        return Float(1.0 / (s / Double(count) + Double(eps)).squareRoot())
    }

    /// `out = x * scale * gain` where `gain = 1 + w` was folded when the weights were loaded.
    @inlinable
    public static func scaleRow(_ x: UnsafePointer<Float>, scale: Float, gain: UnsafePointer<Float>, count: Int, _ out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = (x[i] * scale) * gain[i] }
    }

    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`
    @inlinable
    public static func geluTanh(_ x: Float) -> Float {
        let c: Float = 0.7978845608028654
        return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))
    }

    /// GELU (tanh form) over `count` floats in place: vectorized when `kernel` is AVX2 or above
    /// (default: the best this CPU has).
    public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int, kernel: Int8Kernel = .best) {
        prism_gelu_tanh(kernel.code, x, x, count)
    }

    @inlinable
    public static func geluExact(_ x: Float) -> Float {
        0.5 * x * (1 + erf(x / 1.4142135623730951))
    }

    /// In-place numerically stable softmax over `count` values.
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for i in 0..<count { m = max(m, x[i]) }
        var s: Float = 0
        for i in 0..<count { let e = exp(x[i] - m); x[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<count { x[i] *= inv }
    }

    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// `y += a * x`
    @inlinable
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += a * x[i] }
    }
}

/// Rotary position embedding in the rotate-half layout: the first and second halves of
/// each head are the two coordinates of each rotated pair.
public struct Rope: Sendable {
    public let headDim: Int
    /// `inv_freq[i] = theta^(-2i / headDim) / factor`, computed in fp32 as transformers does
    /// (`factor` is linear RoPE scaling, transformers' `_compute_linear_scaling_rope_parameters`; 1 for none).
    public let invFreq: [Float]

    public init(headDim: Int, theta: Double, factor: Double = 1) {
        self.headDim = headDim
        let half = headDim / 2
        invFreq = (0..<half).map { i in
            let f = Float(1.0 / pow(theta, Double(Float(2 * i) / Float(headDim))))
            return factor == 1 ? f : f / Float(factor)
        }
    }

    /// Rotates `count` heads of `headDim` values stored back to back, all at `position`.
    @inlinable
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let half = headDim / 2
        for i in 0..<half {
            let angle = Float(position) * invFreq[i]
            let c = cos(angle), s = sin(angle)
            for h in 0..<heads {
                let p = x + h * headDim
                let a = p[i], b = p[i + half]
                p[i] = a * c - b * s
                p[i + half] = b * c + a * s
            }
        }
    }
}

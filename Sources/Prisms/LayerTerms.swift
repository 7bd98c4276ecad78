import Foundation
import PrismKernels
import PrismModel

/// One prompt's recorded activations at its decomposed position `p` in one layer.
struct LayerInputs: Sendable {
    let attnOut: ArraySlice<Float>  // [d]
    let mlpOut: ArraySlice<Float>  // [d]
    let z: ArraySlice<Float>  // [H * hd]
    let v: ActivationTensor  // [T, kvH, hd]
    let pattern: [Float]  // [H, S]
    let post: ArraySlice<Float>  // [ff]
    /// The post-norms' frozen 1/rms of this position's attention and MLP outputs (1 without
    /// post-norms).
    let attnPostScale: Float
    let mlpPostScale: Float
    /// Source positions in the pattern rows.
    var S: Int { pattern.count / max(1, heads) }
    let heads: Int
}

/// One (prompt, target) pair in one layer: the target's frozen readout and its pull-backs,
/// already times the prompt's frozen scales.
struct LayerTask: Sendable {
    let item: Int
    let target: Int
    let position: Int
    let u: [Float]  // [d]
    let uWo: [Float]  // [H * hd]
    let uWd: [Float]  // [ff]
}

/// A target's terms in one layer.
struct LayerTerms: Sendable {
    var attn = 0.0
    var mlp = 0.0
    var heads: [Double] = []  // [H]
    var sources: [[Double]] = []  // [H][p + 1]
    var neurons: [Double] = []  // [ff]
}

extension Prism {
    /// (prompt, target) pairs computed at once in a layer: enough to keep the workers busy, few
    /// enough that their copies of the pull-backs stay small (16 x ~80 KiB on gemma-2b).
    static let layerGroup = 16

    /// Every task's terms, the tasks split over up to `threads` workers (each task's sums in the
    /// same order however they are split: the results do not depend on `threads`). The result
    /// arrays are made here, on the calling thread, and only filled by the workers: allocated
    /// on the workers, they stayed in glibc's per-thread arenas (a study's peak RSS rose 6%).
    static func layerTerms(
        _ tasks: [LayerTask], _ inputs: [LayerInputs], heads H: Int, headDim hd: Int, group: Int, kvWidth kvw: Int, threads: Int
    ) -> [LayerTerms] {
        var out = tasks.map { task in
            LayerTerms(
                heads: [Double](repeating: 0, count: H), sources: [[Double]](repeating: [Double](repeating: 0, count: task.position + 1), count: H),
                neurons: [Double](repeating: 0, count: task.uWd.count))
        }
        guard !tasks.isEmpty else { return out }
        let parts = min(max(1, threads), tasks.count)
        out.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let shared = SharedPointer(base)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                for t in stride(from: part, to: tasks.count, by: parts) {
                    fill(&shared.p[t], tasks[t], inputs[tasks[t].item], heads: H, headDim: hd, group: group, kvWidth: kvw)
                }
            }
        }
        return out
    }

    /// One target's terms, into `r`'s arrays (made by the caller): block outputs read out by
    /// `u`; per head `z_h . (u W_O)_h`; per head and source `A[h, j] v_j . (u W_O)_h` (the head's
    /// value at j through the same pull-back); per neuron `post_n (u W_down)_n`. Products in fp32
    /// widened, sums in Double.
    static func fill(_ r: inout LayerTerms, _ task: LayerTask, _ input: LayerInputs, heads H: Int, headDim hd: Int, group: Int, kvWidth kvw: Int) {
        let p = task.position, S = input.S
        r.attn = dotD(task.u[...], input.attnOut)
        r.mlp = dotD(task.u[...], input.mlpOut)
        input.z.withUnsafeBufferPointer { zp in
            input.v.values.withUnsafeBufferPointer { vp in
                task.uWo.withUnsafeBufferPointer { wp in
                    guard let z = zp.baseAddress, let v = vp.baseAddress, let uw = wp.baseAddress else { return }
                    for h in 0..<H {
                        let w = uw + h * hd
                        r.heads[h] = dotD(z + h * hd, w, hd)
                        let g = h / group
                        r.sources[h].withUnsafeMutableBufferPointer { row in
                            for j in 0...p { row[j] = Double(input.pattern[h * S + j]) * dotD(v + j * kvw + g * hd, w, hd) }
                        }
                    }
                }
            }
        }
        let ff = task.uWd.count
        r.neurons.withUnsafeMutableBufferPointer { nb in
            input.post.withUnsafeBufferPointer { pp in
                task.uWd.withUnsafeBufferPointer { cp in
                    for j in 0..<ff { nb[j] = Double(pp[j]) * Double(cp[j]) }
                }
            }
        }
    }
}

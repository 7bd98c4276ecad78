/// Canonical activation names, shared by the forward pass, the activation store, the prisms
/// and every output (after TransformerLens' hook names, without the `hook_` prefixes).
/// Shapes are per sequence; T counts the positions run in this pass, S all positions attended.
public enum ActivationName {
    /// `[T, d]` token embeddings times sqrt(d): the residual stream entering block 0.
    public static let embed = "embed"
    /// `[T, d]`
    public static func residPre(_ l: Int) -> String { "blocks.\(l).resid_pre" }
    /// `[T]` the frozen factor `1 / rms` of the attention-input norm.
    public static func ln1Scale(_ l: Int) -> String { "blocks.\(l).ln1.scale" }
    /// `[T, H, hd]` queries after RoPE.
    public static func q(_ l: Int) -> String { "blocks.\(l).attn.q" }
    /// `[T, kvH, hd]` keys after RoPE.
    public static func k(_ l: Int) -> String { "blocks.\(l).attn.k" }
    /// `[T, kvH, hd]` values (shared by the heads of a group).
    public static func v(_ l: Int) -> String { "blocks.\(l).attn.v" }
    /// `[H, T, S]` attention probabilities, zero above the causal diagonal.
    public static func pattern(_ l: Int) -> String { "blocks.\(l).attn.pattern" }
    /// `[T, H, hd]` per-head mixtures of values, before W_O.
    public static func z(_ l: Int) -> String { "blocks.\(l).attn.z" }
    /// `[T, d]` the attention block's write into the residual stream.
    public static func attnOut(_ l: Int) -> String { "blocks.\(l).attn.out" }
    /// `[T, d]`
    public static func residMid(_ l: Int) -> String { "blocks.\(l).resid_mid" }
    /// `[T]` the frozen factor `1 / rms` of the MLP-input norm.
    public static func ln2Scale(_ l: Int) -> String { "blocks.\(l).ln2.scale" }
    /// `[T, ff]` gate pre-activation.
    public static func gate(_ l: Int) -> String { "blocks.\(l).mlp.gate" }
    /// `[T, ff]` GELU(gate): the frozen neuron factors.
    public static func gateAct(_ l: Int) -> String { "blocks.\(l).mlp.gate_act" }
    /// `[T, ff]` the linear (up) branch.
    public static func up(_ l: Int) -> String { "blocks.\(l).mlp.up" }
    /// `[T, ff]` gate_act * up, the neuron activations read by W_down.
    public static func post(_ l: Int) -> String { "blocks.\(l).mlp.post" }
    /// `[T, d]` the MLP block's write into the residual stream.
    public static func mlpOut(_ l: Int) -> String { "blocks.\(l).mlp.out" }
    /// `[T, d]`
    public static func residPost(_ l: Int) -> String { "blocks.\(l).resid_post" }
    /// `[T]` the final norm's `1 / rms`.
    public static let lnFinalScale = "ln_final.scale"
}

/// Receives activations as the forward pass produces them. The pass asks `wants` first,
/// so a recorder that keeps only what the prisms read costs nothing for the rest.
public protocol ActivationRecorder: AnyObject {
    func wants(_ name: String) -> Bool
    func record(_ name: String, sequence: Int, shape: [Int], values: UnsafeBufferPointer<Float>)
}

/// Keeps every activation it is offered (or those matching `filter`) in memory.
public final class MemoryRecorder: ActivationRecorder {
    public typealias Tensor = ActivationTensor

    public private(set) var tensors: [Int: [String: Tensor]] = [:]
    private let filter: (String) -> Bool

    public init(filter: @escaping (String) -> Bool = { _ in true }) { self.filter = filter }

    public func wants(_ name: String) -> Bool { filter(name) }

    public func record(_ name: String, sequence: Int, shape: [Int], values: UnsafeBufferPointer<Float>) {
        tensors[sequence, default: [:]][name] = Tensor(shape: shape, values: Array(values))
    }

    public func tensor(_ name: String, sequence: Int = 0) -> Tensor? { tensors[sequence]?[name] }
}

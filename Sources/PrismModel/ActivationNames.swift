/// Every point where the forward pass offers an activation: one table that knows each point's
/// canonical name (after TransformerLens' hook names, without the `hook_` prefixes), its shape
/// and dtype, shared by the forward pass, the recorders, the activation store, the prisms'
/// readers and every output. Shapes are per sequence: T counts the positions run in a pass, S
/// all positions attended (T when the whole prompt runs at once).
public enum ActivationPoint: Hashable, Sendable {
    /// `[T, d]` token embeddings times sqrt(d): the residual stream entering block 0.
    case embed
    /// `[T, d]`
    case residPre(Int)
    /// `[T]` the frozen factor `1 / rms` of the attention-input norm.
    case ln1Scale(Int)
    /// `[T, H, hd]` queries after RoPE.
    case q(Int)
    /// `[T, kvH, hd]` keys after RoPE.
    case k(Int)
    /// `[T, kvH, hd]` values (shared by the heads of a group).
    case v(Int)
    /// `[T, H]` Gemma 3: the frozen `1 / rms` of each query head's norm (q_norm).
    case qNormScale(Int)
    /// `[T, kvH]` Gemma 3: the frozen `1 / rms` of each key head's norm (k_norm).
    case kNormScale(Int)
    /// `[H, T, S]` attention probabilities, zero above the causal diagonal.
    case pattern(Int)
    /// `[T, H, hd]` per-head mixtures of values, before W_O.
    case z(Int)
    /// `[T]` Gemma 2/3: the frozen `1 / rms` of the attention block's output, normed by
    /// `post_attention_layernorm` before it joins the residual stream.
    case ln1PostScale(Int)
    /// `[T, d]` the attention block's write into the residual stream (after the post-norm on Gemma 2/3).
    case attnOut(Int)
    /// `[T, d]`
    case residMid(Int)
    /// `[T]` the frozen factor `1 / rms` of the MLP-input norm.
    case ln2Scale(Int)
    /// `[T, ff]` gate pre-activation.
    case gate(Int)
    /// `[T, ff]` GELU(gate): the frozen neuron factors.
    case gateAct(Int)
    /// `[T, ff]` the linear (up) branch.
    case up(Int)
    /// `[T, ff]` gate_act * up, the neuron activations read by W_down.
    case post(Int)
    /// `[T]` Gemma 2/3: the frozen `1 / rms` of the MLP block's output (post_feedforward_layernorm).
    case ln2PostScale(Int)
    /// `[T, d]` the MLP block's write into the residual stream (after the post-norm on Gemma 2/3).
    case mlpOut(Int)
    /// `[T, d]`
    case residPost(Int)
    /// `[T]` the final norm's `1 / rms`.
    case lnFinalScale

    /// Every value is fp32.
    public static let dtype = "f32"

    /// The points of block `l` in the order the forward pass offers them.
    public static func block(_ l: Int) -> [ActivationPoint] {
        [
            .residPre(l), .ln1Scale(l), .q(l), .k(l), .v(l), .qNormScale(l), .kNormScale(l), .pattern(l), .z(l), .ln1PostScale(l),
            .attnOut(l), .residMid(l), .ln2Scale(l), .gate(l), .gateAct(l), .up(l), .post(l), .ln2PostScale(l), .mlpOut(l), .residPost(l),
        ]
    }

    /// The block this point belongs to (nil for `embed` and `ln_final.scale`).
    public var layer: Int? {
        switch self {
        case .embed, .lnFinalScale: return nil
        case .residPre(let l), .ln1Scale(let l), .q(let l), .k(let l), .v(let l), .qNormScale(let l), .kNormScale(let l), .pattern(let l),
            .z(let l), .ln1PostScale(let l), .attnOut(let l), .residMid(let l), .ln2Scale(let l), .gate(let l), .gateAct(let l), .up(let l),
            .post(let l), .ln2PostScale(let l), .mlpOut(let l), .residPost(let l):
            return l
        }
    }

    /// The canonical name, e.g. `blocks.3.attn.pattern`.
    public var name: String {
        switch self {
        case .embed: return "embed"
        case .lnFinalScale: return "ln_final.scale"
        case .residPre(let l): return "blocks.\(l).resid_pre"
        case .ln1Scale(let l): return "blocks.\(l).ln1.scale"
        case .q(let l): return "blocks.\(l).attn.q"
        case .k(let l): return "blocks.\(l).attn.k"
        case .v(let l): return "blocks.\(l).attn.v"
        case .qNormScale(let l): return "blocks.\(l).attn.q_norm.scale"
        case .kNormScale(let l): return "blocks.\(l).attn.k_norm.scale"
        case .ln1PostScale(let l): return "blocks.\(l).ln1_post.scale"
        case .ln2PostScale(let l): return "blocks.\(l).ln2_post.scale"
        case .pattern(let l): return "blocks.\(l).attn.pattern"
        case .z(let l): return "blocks.\(l).attn.z"
        case .attnOut(let l): return "blocks.\(l).attn.out"
        case .residMid(let l): return "blocks.\(l).resid_mid"
        case .ln2Scale(let l): return "blocks.\(l).ln2.scale"
        case .gate(let l): return "blocks.\(l).mlp.gate"
        case .gateAct(let l): return "blocks.\(l).mlp.gate_act"
        case .up(let l): return "blocks.\(l).mlp.up"
        case .post(let l): return "blocks.\(l).mlp.post"
        case .mlpOut(let l): return "blocks.\(l).mlp.out"
        case .residPost(let l): return "blocks.\(l).resid_post"
        }
    }

    /// The point a canonical name names (strictly: `blocks.03.attn.q` is not one), or nil.
    public init?(name: String) {
        if name == "embed" { self = .embed; return }
        if name == "ln_final.scale" { self = .lnFinalScale; return }
        let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blocks", let l = Int(parts[1]), l >= 0, String(l) == parts[1],
            let point = Self.block(l).first(where: { $0.name == name })
        else { return nil }
        self = point
    }

    /// The shape the forward pass records this point with for a sequence of `t` positions run
    /// at once, under `c` (nil: a layer or a norm the model does not have).
    public func shape(_ c: GemmaConfig, tokens t: Int) -> [Int]? {
        if let l = layer, l >= c.numHiddenLayers { return nil }
        switch self {
        case .qNormScale, .kNormScale: if !c.hasQKNorm { return nil }
        case .ln1PostScale, .ln2PostScale: if !c.hasPostNorms { return nil }
        default: break
        }
        let (d, h, kv, hd, ff) = (c.hiddenSize, c.numAttentionHeads, c.kvHeads, c.headDim, c.intermediateSize)
        switch self {
        case .embed, .residPre, .residMid, .residPost, .attnOut, .mlpOut: return [t, d]
        case .ln1Scale, .ln2Scale, .lnFinalScale, .ln1PostScale, .ln2PostScale: return [t]
        case .qNormScale: return [t, h]
        case .kNormScale: return [t, kv]
        case .q, .z: return [t, h, hd]
        case .k, .v: return [t, kv, hd]
        case .pattern: return [h, t, t]
        case .gate, .gateAct, .up, .post: return [t, ff]
        }
    }
}

/// The canonical names as strings, for the recorders' and store's string keys: each is its
/// `ActivationPoint`'s name, so the spelling lives in one table.
public enum ActivationName {
    public static let embed = ActivationPoint.embed.name
    public static func residPre(_ l: Int) -> String { ActivationPoint.residPre(l).name }
    public static func ln1Scale(_ l: Int) -> String { ActivationPoint.ln1Scale(l).name }
    public static func q(_ l: Int) -> String { ActivationPoint.q(l).name }
    public static func k(_ l: Int) -> String { ActivationPoint.k(l).name }
    public static func v(_ l: Int) -> String { ActivationPoint.v(l).name }
    public static func qNormScale(_ l: Int) -> String { ActivationPoint.qNormScale(l).name }
    public static func kNormScale(_ l: Int) -> String { ActivationPoint.kNormScale(l).name }
    public static func ln1PostScale(_ l: Int) -> String { ActivationPoint.ln1PostScale(l).name }
    public static func ln2PostScale(_ l: Int) -> String { ActivationPoint.ln2PostScale(l).name }
    public static func pattern(_ l: Int) -> String { ActivationPoint.pattern(l).name }
    public static func z(_ l: Int) -> String { ActivationPoint.z(l).name }
    public static func attnOut(_ l: Int) -> String { ActivationPoint.attnOut(l).name }
    public static func residMid(_ l: Int) -> String { ActivationPoint.residMid(l).name }
    public static func ln2Scale(_ l: Int) -> String { ActivationPoint.ln2Scale(l).name }
    public static func gate(_ l: Int) -> String { ActivationPoint.gate(l).name }
    public static func gateAct(_ l: Int) -> String { ActivationPoint.gateAct(l).name }
    public static func up(_ l: Int) -> String { ActivationPoint.up(l).name }
    public static func post(_ l: Int) -> String { ActivationPoint.post(l).name }
    public static func mlpOut(_ l: Int) -> String { ActivationPoint.mlpOut(l).name }
    public static func residPost(_ l: Int) -> String { ActivationPoint.residPost(l).name }
    public static let lnFinalScale = ActivationPoint.lnFinalScale.name
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

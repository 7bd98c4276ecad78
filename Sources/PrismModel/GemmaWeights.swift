import PrismFormats
import PrismKernels
import PrismSupport

/// The weights of one decoder layer. Norm gains hold `1 + w` (Gemma's stored offsets folded in).
public struct GemmaLayerWeights: Sendable {
    public var inputNormGain: [Float]  // [d]
    public var q: WeightMatrix  // [H*hd, d]
    public var k: WeightMatrix  // [kvH*hd, d]
    public var v: WeightMatrix  // [kvH*hd, d]
    public var o: WeightMatrix  // [d, H*hd]
    public var postAttentionNormGain: [Float]  // [d]
    public var gate: WeightMatrix  // [ff, d]
    public var up: WeightMatrix  // [ff, d]
    public var down: WeightMatrix  // [d, ff]

    public var matrices: [WeightMatrix] { [q, k, v, o, gate, up, down] }
    public var byteCount: Int { matrices.reduce(0) { $0 + $1.byteCount } }
    public func release() { for m in matrices { m.release() } }
}

/// All weights of a Gemma model: views into mapped files plus small f32 norm gains.
public struct GemmaWeights: Sendable {
    public var embedding: WeightMatrix  // [vocab, d], also the unembedding (tied)
    public var layers: [GemmaLayerWeights]
    public var finalNormGain: [Float]  // [d]
}

/// Hugging Face tensor names of a GemmaForCausalLM checkpoint.
public enum GemmaTensorNames {
    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static func layer(_ l: Int, _ suffix: String) -> String { "model.layers.\(l).\(suffix)" }
    public static let layerSuffixes = [
        "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.o_proj.weight", "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight",
    ]

    /// Every tensor a checkpoint must hold, with its shape.
    public static func expectedShapes(_ c: GemmaConfig) -> [String: [Int]] {
        let d = c.hidden_size, qd = c.num_attention_heads * c.headDim, kvd = c.kvHeads * c.headDim, ff = c.intermediate_size
        var m: [String: [Int]] = [embedding: [c.vocab_size, d], finalNorm: [d]]
        for l in 0..<c.num_hidden_layers {
            m[layer(l, "input_layernorm.weight")] = [d]
            m[layer(l, "self_attn.q_proj.weight")] = [qd, d]
            m[layer(l, "self_attn.k_proj.weight")] = [kvd, d]
            m[layer(l, "self_attn.v_proj.weight")] = [kvd, d]
            m[layer(l, "self_attn.o_proj.weight")] = [d, qd]
            m[layer(l, "post_attention_layernorm.weight")] = [d]
            m[layer(l, "mlp.gate_proj.weight")] = [ff, d]
            m[layer(l, "mlp.up_proj.weight")] = [ff, d]
            m[layer(l, "mlp.down_proj.weight")] = [d, ff]
        }
        return m
    }
}

extension GemmaTensorNames {
    /// Checks that a checkpoint holds exactly the tensors of this config, with their shapes:
    /// every tensor is either consumed or refused by name. Returns the expected shapes.
    @discardableResult
    public static func check(_ checkpoint: SafeTensorsCheckpoint, config c: GemmaConfig) throws -> [String: [Int]] {
        let expected = expectedShapes(c)
        for name in checkpoint.tensorNames where expected[name] == nil {
            if name == "lm_head.weight" {
                throw PrismError("tensor lm_head.weight: Gemma ties the unembedding to model.embed_tokens.weight; untied checkpoints are not supported")
            }
            throw PrismError("unexpected tensor \(name) in \(checkpoint.directory) (not part of GemmaForCausalLM with this config)")
        }
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            let v = try checkpoint.require(name)
            try v.requireShape(shape)
        }
        return expected
    }

    /// Tensor names in the order a forward pass reads them (embedding, layers, final norm).
    public static func ordered(_ c: GemmaConfig) -> [String] {
        [embedding] + (0..<c.num_hidden_layers).flatMap { l in layerSuffixes.map { layer(l, $0) } } + [finalNorm]
    }

    /// Coarse kind, for summaries: embedding, attention, mlp, norm.
    public static func kind(_ name: String) -> String {
        if name == embedding { return "embedding" }
        if name.hasSuffix("norm.weight") { return "norm" }
        if name.contains(".self_attn.") { return "attention" }
        if name.contains(".mlp.") { return "mlp" }
        return "other"
    }
}

extension WeightMatrix {
    /// A zero-copy matrix over a 2-D float tensor of a checkpoint.
    public init(view: TensorView) throws {
        guard view.shape.count == 2 else { throw PrismError("tensor \(view.name) is not a matrix (shape \(view.shape))") }
        let base = view.bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!
        let storage: Storage
        switch view.dtype {
        case .f32: storage = .f32(base.assumingMemoryBound(to: Float.self))
        case .bf16: storage = .bf16(base.assumingMemoryBound(to: UInt16.self))
        case .f16: storage = .f16(base.assumingMemoryBound(to: UInt16.self))
        default: throw PrismError("tensor \(view.name) has dtype \(view.dtype.rawValue); expected F32, F16 or BF16")
        }
        self.init(rows: view.shape[0], cols: view.shape[1], storage: storage, owner: view.owner)
    }
}

extension GemmaWeights {
    /// Binds every tensor of a Hugging Face checkpoint, checking names and shapes: a missing
    /// tensor, a wrong shape, or any tensor the model does not consume is an error.
    public init(checkpoint: SafeTensorsCheckpoint, config c: GemmaConfig) throws {
        let expected = try GemmaTensorNames.check(checkpoint, config: c)
        func tensor(_ name: String) throws -> TensorView {
            let v = try checkpoint.require(name)
            if let shape = expected[name] { try v.requireShape(shape) }
            return v
        }
        func matrix(_ name: String) throws -> WeightMatrix { try WeightMatrix(view: tensor(name)) }
        func gain(_ name: String) throws -> [Float] { try tensor(name).floats().map { 1 + $0 } }
        try self.init(config: c, matrix: matrix, gain: gain)
    }
}

extension GemmaWeights {
    /// Binds every tensor by its Hugging Face name, whatever file holds it.
    init(config c: GemmaConfig, matrix: (String) throws -> WeightMatrix, gain: (String) throws -> [Float]) throws {
        typealias N = GemmaTensorNames
        var layers: [GemmaLayerWeights] = []
        for l in 0..<c.num_hidden_layers {
            layers.append(
                GemmaLayerWeights(
                    inputNormGain: try gain(N.layer(l, "input_layernorm.weight")),
                    q: try matrix(N.layer(l, "self_attn.q_proj.weight")),
                    k: try matrix(N.layer(l, "self_attn.k_proj.weight")),
                    v: try matrix(N.layer(l, "self_attn.v_proj.weight")),
                    o: try matrix(N.layer(l, "self_attn.o_proj.weight")),
                    postAttentionNormGain: try gain(N.layer(l, "post_attention_layernorm.weight")),
                    gate: try matrix(N.layer(l, "mlp.gate_proj.weight")),
                    up: try matrix(N.layer(l, "mlp.up_proj.weight")),
                    down: try matrix(N.layer(l, "mlp.down_proj.weight"))))
        }
        self.init(embedding: try matrix(N.embedding), layers: layers, finalNormGain: try gain(N.finalNorm))
    }
}

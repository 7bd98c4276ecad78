import PrismFormats
import PrismKernels
import PrismSupport

/// The weights of one decoder layer. Norm gains hold `1 + w` (Gemma's stored offsets folded in).
/// Names follow TransformerLens: `ln1` normalizes the attention's input, `ln2` the MLP's input;
/// Gemma 2 and 3 add `ln1Post` / `ln2Post` on each block's output and Gemma 3 `qNorm` / `kNorm`.
public struct GemmaLayerWeights: Sendable {
    public var ln1Gain: [Float]  // [d]  input_layernorm
    public var q: WeightMatrix  // [H*hd, d]
    public var k: WeightMatrix  // [kvH*hd, d]
    public var v: WeightMatrix  // [kvH*hd, d]
    public var o: WeightMatrix  // [d, H*hd]
    /// `[hd]` Gemma 3's per-head query and key norms (q_norm, k_norm), else nil.
    public var qNormGain: [Float]?
    public var kNormGain: [Float]?
    /// `[d]` Gemma 2/3's norm of the attention block's output (their `post_attention_layernorm`), else nil.
    public var ln1PostGain: [Float]?
    /// `[d]` the MLP's input norm: Gemma 1's `post_attention_layernorm`, Gemma 2/3's `pre_feedforward_layernorm`.
    public var ln2Gain: [Float]
    public var gate: WeightMatrix  // [ff, d]
    public var up: WeightMatrix  // [ff, d]
    public var down: WeightMatrix  // [d, ff]
    /// `[d]` Gemma 2/3's norm of the MLP block's output (post_feedforward_layernorm), else nil.
    public var ln2PostGain: [Float]?

    public var matrices: [WeightMatrix] { [q, k, v, o, gate, up, down] }
    public var byteCount: Int { matrices.reduce(0) { $0 + $1.byteCount } }
    /// Gives the layer's weight pages back in one span (see `WeightMatrix.release(together:)`).
    public func release() { WeightMatrix.release(together: matrices) }
}

/// All weights of a Gemma model: views into mapped files plus small f32 norm gains.
public struct GemmaWeights: Sendable {
    public var embedding: WeightMatrix  // [vocab, d], also the unembedding (tied)
    public var layers: [GemmaLayerWeights]
    public var finalNormGain: [Float]  // [d]

    /// Reads each file the weights are mapped from into the page cache in one sequential pass,
    /// where most of it is not there yet (see `MappedFile.warmPageCache`): a forward pass then
    /// reads it no slower, and a run that streams its weights under a budget maps it in large
    /// folios. Files already cached cost one `mincore` each.
    public func warmPageCache() {
        var seen = Set<ObjectIdentifier>()
        for m in [embedding] + layers.flatMap(\.matrices) {
            guard let owner = m.owner as? PageReleasing, seen.insert(ObjectIdentifier(owner)).inserted else { continue }
            owner.warmPageCache()
        }
    }
}

/// Hugging Face tensor names of Gemma{,2,3}ForCausalLM checkpoints (the canonical names every
/// converted file uses).
public enum GemmaTensorNames {
    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static func layer(_ l: Int, _ suffix: String) -> String { "model.layers.\(l).\(suffix)" }

    /// The suffixes of one layer's tensors, in the order a forward pass reads them.
    public static func layerSuffixes(_ c: GemmaConfig) -> [String] {
        var s = ["input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"]
        if c.hasQKNorm { s += ["self_attn.q_norm.weight", "self_attn.k_norm.weight"] }
        s += ["self_attn.o_proj.weight", "post_attention_layernorm.weight"]
        if c.hasPostNorms { s += ["pre_feedforward_layernorm.weight"] }
        s += ["mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"]
        if c.hasPostNorms { s += ["post_feedforward_layernorm.weight"] }
        return s
    }

    /// Every tensor a checkpoint must hold, with its shape.
    public static func expectedShapes(_ c: GemmaConfig) -> [String: [Int]] {
        let d = c.hiddenSize, qd = c.numAttentionHeads * c.headDim, kvd = c.kvHeads * c.headDim, ff = c.intermediateSize
        var m: [String: [Int]] = [embedding: [c.vocabSize, d], finalNorm: [d]]
        let shapes: [String: [Int]] = [
            "self_attn.q_proj.weight": [qd, d], "self_attn.k_proj.weight": [kvd, d], "self_attn.v_proj.weight": [kvd, d],
            "self_attn.o_proj.weight": [d, qd], "self_attn.q_norm.weight": [c.headDim], "self_attn.k_norm.weight": [c.headDim],
            "mlp.gate_proj.weight": [ff, d], "mlp.up_proj.weight": [ff, d], "mlp.down_proj.weight": [d, ff],
        ]
        for l in 0..<c.numHiddenLayers {
            for suffix in layerSuffixes(c) { m[layer(l, suffix)] = shapes[suffix] ?? [d] }
        }
        return m
    }
}

/// Where a checkpoint keeps the language model's tensors: `model.` for the *ForCausalLM classes,
/// `model.language_model.` (transformers 5) or `language_model.model.` (earlier) inside the
/// multimodal Gemma3ForConditionalGeneration, whose vision tensors are skipped (counted in
/// `skipped`; this tool explains the text model).
public struct CheckpointNaming: Sendable {
    /// What replaces the leading `model.` of a canonical name.
    public let prefix: String
    /// Tensors of the vision tower and projector, not read.
    public let skipped: [String]

    static let visionPrefixes = [
        "vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector.",
    ]

    public init(names: [String]) {
        if names.contains("model.language_model.embed_tokens.weight") {
            prefix = "model.language_model."
        } else if names.contains("language_model.model.embed_tokens.weight") {
            prefix = "language_model.model."
        } else {
            prefix = "model."
        }
        let wrapped = prefix != "model."
        skipped = wrapped ? names.filter { n in Self.visionPrefixes.contains { n.hasPrefix($0) } } : []
    }

    /// The name a canonical `model.…` tensor has in this checkpoint.
    public func actual(_ canonical: String) -> String {
        guard prefix != "model.", canonical.hasPrefix("model.") else { return canonical }
        return prefix + canonical.dropFirst("model.".count)
    }
}

extension GemmaTensorNames {
    /// Checks that a checkpoint holds exactly the tensors of this config, with their shapes:
    /// every tensor is either consumed, skipped as part of a vision tower, or refused by name.
    /// - Returns: the expected shapes by canonical name, and where the checkpoint keeps them.
    /// - Throws: `PrismError` naming the first missing, misshapen or unexpected tensor.
    @discardableResult
    public static func check(_ checkpoint: SafeTensorsCheckpoint, config c: GemmaConfig) throws -> (shapes: [String: [Int]], naming: CheckpointNaming) {
        let expected = expectedShapes(c)
        let naming = CheckpointNaming(names: checkpoint.tensorNames)
        let actualNames = Set(expected.keys.map(naming.actual))
        let skipped = Set(naming.skipped)
        for name in checkpoint.tensorNames where !actualNames.contains(name) && !skipped.contains(name) {
            if name == "lm_head.weight" {
                throw PrismError("tensor lm_head.weight: Gemma ties the unembedding to model.embed_tokens.weight; untied checkpoints are not supported")
            }
            throw PrismError("unexpected tensor \(name) in \(checkpoint.directory) (not part of \(c.generation.causalLMClass) with this config)")
        }
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            let v = try checkpoint.require(naming.actual(name))
            guard v.shape == shape else {
                throw PrismError(
                    "\(checkpoint.directory): tensor \(v.name) has shape \(v.shape), but config.json (hidden_size, intermediate_size, heads, vocab_size) needs \(shape)"
                )
            }
        }
        return (expected, naming)
    }

    /// Tensor names in the order a forward pass reads them (embedding, layers, final norm).
    public static func ordered(_ c: GemmaConfig) -> [String] {
        let suffixes = layerSuffixes(c)
        return [embedding] + (0..<c.numHiddenLayers).flatMap { l in suffixes.map { layer(l, $0) } } + [finalNorm]
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
        let (expected, naming) = try GemmaTensorNames.check(checkpoint, config: c)
        func tensor(_ name: String) throws -> TensorView {
            let v = try checkpoint.require(naming.actual(name))
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
        for l in 0..<c.numHiddenLayers {
            func g(_ suffix: String) throws -> [Float] { try gain(N.layer(l, suffix)) }
            func m(_ suffix: String) throws -> WeightMatrix { try matrix(N.layer(l, suffix)) }
            let post = c.hasPostNorms
            layers.append(
                GemmaLayerWeights(
                    ln1Gain: try g("input_layernorm.weight"),
                    q: try m("self_attn.q_proj.weight"), k: try m("self_attn.k_proj.weight"), v: try m("self_attn.v_proj.weight"),
                    o: try m("self_attn.o_proj.weight"),
                    qNormGain: c.hasQKNorm ? try g("self_attn.q_norm.weight") : nil,
                    kNormGain: c.hasQKNorm ? try g("self_attn.k_norm.weight") : nil,
                    ln1PostGain: post ? try g("post_attention_layernorm.weight") : nil,
                    // Gemma 1's post_attention_layernorm is the MLP's input norm.
                    ln2Gain: try g(post ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"),
                    gate: try m("mlp.gate_proj.weight"), up: try m("mlp.up_proj.weight"), down: try m("mlp.down_proj.weight"),
                    ln2PostGain: post ? try g("post_feedforward_layernorm.weight") : nil))
        }
        self.init(embedding: try matrix(N.embedding), layers: layers, finalNormGain: try gain(N.finalNorm))
    }
}

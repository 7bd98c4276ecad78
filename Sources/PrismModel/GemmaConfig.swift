import Foundation
import PrismSupport

/// A Gemma `config.json` (Gemma 1, 2 or 3 text), with every absent key resolved to the default
/// of transformers' configuration class for that model type (`GemmaConfig`, `Gemma2Config`,
/// `Gemma3TextConfig`, transformers 5.24): the config below is what the model runs, whichever
/// of the forms in the wild it came from (the 2024 gemma-2b file with `rope_theta` at top level,
/// the published gemma-2 and gemma-3 files, transformers 5's `rope_parameters` / `layer_types`,
/// the multimodal `Gemma3ForConditionalGeneration` wrapper's `text_config`).
///
/// Encoding writes the resolved values under transformers 5's key names, so a config rebuilt
/// from another format (GGUF metadata) is stored as an ordinary `config.json`.
public struct GemmaConfig: Encodable, Equatable, Sendable {
    /// The architecture generation, from `model_type`.
    public enum Generation: String, Codable, Sendable {
        case gemma1 = "gemma"
        case gemma2 = "gemma2"
        case gemma3 = "gemma3_text"

        /// The class transformers instantiates for a text-only checkpoint.
        public var causalLMClass: String {
            switch self {
            case .gemma1: return "GemmaForCausalLM"
            case .gemma2: return "Gemma2ForCausalLM"
            case .gemma3: return "Gemma3ForCausalLM"
            }
        }
        public var displayName: String {
            switch self {
            case .gemma1: return "Gemma 1"
            case .gemma2: return "Gemma 2"
            case .gemma3: return "Gemma 3"
            }
        }
    }

    /// Which keys a layer's queries may see (transformers' `layer_types`).
    public enum LayerType: String, Codable, Sendable {
        /// Causal, limited to the last `sliding_window` positions (the query's own included).
        case slidingAttention = "sliding_attention"
        /// Causal over the whole sequence.
        case fullAttention = "full_attention"
    }

    /// Rotary embedding of one kind of layer: `inv_freq[i] = theta^(-2i/hd) / factor`.
    public struct RoPE: Codable, Equatable, Sendable {
        public var theta: Double
        /// `default` or `linear` (positions divided by `factor`); others are refused by name.
        public var type: String
        public var factor: Double

        enum CodingKeys: String, CodingKey {
            case theta = "rope_theta"
            case type = "rope_type"
            case factor
        }

        public init(theta: Double, type: String, factor: Double) {
            self.theta = theta
            self.type = type
            self.factor = factor
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            theta = try c.decode(Double.self, forKey: .theta)
            type = try c.decode(String.self, forKey: .type)
            factor = try c.decodeIfPresent(Double.self, forKey: .factor) ?? 1
        }

        /// `factor` only where it means something: transformers warns about a `factor` under
        /// rope_type `default` ("Unrecognized keys").
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(theta, forKey: .theta)
            try c.encode(type, forKey: .type)
            if type != "default" || factor != 1 { try c.encode(factor, forKey: .factor) }
        }
    }

    public var generation: Generation
    public var architectures: [String]?
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Double
    /// The MLP's activation as transformers reads it (`hidden_act` for Gemma 1, where the 2024
    /// files' `"gelu"` means the tanh form; `hidden_activation` for Gemma 2 and 3).
    public var hiddenActivation: String
    /// Attention scores are `q . k * query_pre_attn_scalar^-0.5` (Gemma 1: `head_dim`).
    public var queryPreAttnScalar: Double
    /// Keys visible to a sliding layer's query (nil: no layer slides).
    public var slidingWindow: Int?
    /// One entry per layer.
    public var layerTypes: [LayerType]
    /// `c * tanh(z / c)` on the final logits (Gemma 2: 30 by default), or nil.
    public var finalLogitSoftcapping: Double?
    /// `c * tanh(s / c)` on the attention scores before the softmax (Gemma 2: 50), or nil.
    public var attnLogitSoftcapping: Double?
    /// RoPE of full-attention layers (Gemma 1 and 2: every layer).
    public var ropeFull: RoPE
    /// RoPE of sliding layers (Gemma 3's `rope_local_base_freq`; otherwise equal to `ropeFull`).
    public var ropeSliding: RoPE
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var padTokenId: Int?

    /// Decodes a `config.json`, resolving absent keys to transformers' defaults for its
    /// `model_type` and refusing any feature the runtime does not implement, by name.
    /// - Throws: `PrismError` naming the source and the key.
    public static func decode(_ data: Data, source: String = "config.json") throws -> GemmaConfig {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw PrismError("\(source): not valid JSON")
        }
        guard let obj = object as? [String: Any] else { throw PrismError("\(source): not a JSON object") }
        let config = try ConfigReader(obj, source: source).config()
        try config.validate(source: source)
        return config
    }

    public static func load(path: String) throws -> GemmaConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrismError("cannot read \(path)")
        }
        return try decode(data, source: path)
    }

    /// Memberwise, for configs rebuilt from other formats (GGUF metadata); `validate` before use.
    public init(
        generation: Generation, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int, maxPositionEmbeddings: Int, rmsNormEps: Double,
        hiddenActivation: String = "gelu_pytorch_tanh", queryPreAttnScalar: Double? = nil, slidingWindow: Int? = nil,
        layerTypes: [LayerType]? = nil, finalLogitSoftcapping: Double? = nil, attnLogitSoftcapping: Double? = nil,
        ropeFull: RoPE, ropeSliding: RoPE? = nil, bosTokenId: Int? = 2, eosTokenId: Int? = 1, padTokenId: Int? = 0
    ) {
        self.generation = generation
        architectures = [generation.causalLMClass]
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.hiddenActivation = hiddenActivation
        self.queryPreAttnScalar = queryPreAttnScalar ?? Double(headDim)
        self.slidingWindow = slidingWindow
        // Clamped so that a wrong count cannot trap here; `validate` refuses it by name.
        self.layerTypes = layerTypes ?? Array(repeating: .fullAttention, count: min(max(0, numHiddenLayers), 1025))
        self.finalLogitSoftcapping = finalLogitSoftcapping
        self.attnLogitSoftcapping = attnLogitSoftcapping
        self.ropeFull = ropeFull
        self.ropeSliding = ropeSliding ?? ropeFull
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps"
        case hiddenAct = "hidden_act", hiddenActivation = "hidden_activation"
        case queryPreAttnScalar = "query_pre_attn_scalar", slidingWindow = "sliding_window", layerTypes = "layer_types"
        case finalLogitSoftcapping = "final_logit_softcapping", attnLogitSoftcapping = "attn_logit_softcapping"
        case ropeParameters = "rope_parameters", tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
    }

    /// transformers 5's form of the resolved config.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(generation.rawValue, forKey: .modelType)
        try c.encode(architectures ?? [generation.causalLMClass], forKey: .architectures)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(true, forKey: .tieWordEmbeddings)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
        try c.encodeIfPresent(padTokenId, forKey: .padTokenId)
        switch generation {
        case .gemma1:
            try c.encode(hiddenActivation, forKey: .hiddenAct)
            try c.encode(ropeFull, forKey: .ropeParameters)
        case .gemma2, .gemma3:
            try c.encode(hiddenActivation, forKey: .hiddenActivation)
            try c.encode(queryPreAttnScalar, forKey: .queryPreAttnScalar)
            try c.encodeIfPresent(slidingWindow, forKey: .slidingWindow)
            try c.encode(layerTypes, forKey: .layerTypes)
            try c.encodeIfPresent(finalLogitSoftcapping, forKey: .finalLogitSoftcapping)
            try c.encodeIfPresent(attnLogitSoftcapping, forKey: .attnLogitSoftcapping)
            if generation == .gemma3 {
                try c.encode(["full_attention": ropeFull, "sliding_attention": ropeSliding], forKey: .ropeParameters)
            } else {
                try c.encode(ropeFull, forKey: .ropeParameters)
            }
        }
    }

    /// The JSON text of `encode`, sorted keys, for embedding in a converted file.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public func validate(source: String = "config.json") throws {
        let positive: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
            ("num_key_value_heads", numKeyValueHeads), ("head_dim", headDim), ("max_position_embeddings", maxPositionEmbeddings),
        ]
        for (k, v) in positive where v <= 0 || v > 1 << 24 {
            throw PrismError("\(source): \(k) = \(v) is out of range")
        }
        // Every layer's tensors are listed by name when the weights are bound.
        guard numHiddenLayers <= 1024 else { throw PrismError("\(source): num_hidden_layers = \(numHiddenLayers) is out of range") }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw PrismError("\(source): num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
        guard headDim % 2 == 0 else { throw PrismError("\(source): head_dim \(headDim) must be even for RoPE") }
        guard rmsNormEps >= 0, rmsNormEps.isFinite else { throw PrismError("\(source): bad rms_norm_eps") }
        guard queryPreAttnScalar > 0, queryPreAttnScalar.isFinite else { throw PrismError("\(source): query_pre_attn_scalar must be positive") }
        for (name, r) in [("rope theta", ropeFull), ("sliding-layer rope theta", ropeSliding)] {
            guard r.theta > 0, r.theta.isFinite else { throw PrismError("\(source): bad \(name) \(r.theta)") }
            guard r.type == "default" || r.type == "linear" else {
                throw PrismError("\(source): rope_type '\(r.type)' is not supported (only 'default' and 'linear')")
            }
            guard r.factor > 0, r.factor.isFinite else { throw PrismError("\(source): bad rope scaling factor \(r.factor)") }
        }
        for (name, cap) in [("final_logit_softcapping", finalLogitSoftcapping), ("attn_logit_softcapping", attnLogitSoftcapping)] {
            if let cap, !(cap > 0 && cap.isFinite) { throw PrismError("\(source): \(name) = \(cap) must be positive") }
        }
        guard layerTypes.count == numHiddenLayers else {
            throw PrismError("\(source): layer_types has \(layerTypes.count) entries for \(numHiddenLayers) layers")
        }
        if let first = layerTypes.firstIndex(of: .slidingAttention) {
            guard let w = slidingWindow else { throw PrismError("\(source): layer \(first) is sliding_attention but sliding_window is null") }
            guard w > 0 else { throw PrismError("\(source): sliding_window = \(w) must be positive") }
        }
        _ = try activation()
    }

    public var kvHeads: Int { numKeyValueHeads }
    /// The full-attention layers' RoPE base (the only one for Gemma 1 and 2).
    public var ropeTheta: Double { ropeFull.theta }
    /// `query_pre_attn_scalar^-0.5`.
    public var attentionScale: Double { 1 / queryPreAttnScalar.squareRoot() }
    /// Gemma 2 and 3 normalize each block's output before it joins the residual stream.
    public var hasPostNorms: Bool { generation != .gemma1 }
    /// Gemma 3 normalizes queries and keys per head.
    public var hasQKNorm: Bool { generation == .gemma3 }
    /// The RoPE of layer `l`.
    public func rope(layer l: Int) -> RoPE { layerTypes[l] == .slidingAttention ? ropeSliding : ropeFull }
    /// The keys visible to layer `l`'s queries: nil for all earlier ones.
    public func window(layer l: Int) -> Int? { layerTypes[l] == .slidingAttention ? slidingWindow : nil }

    public enum Activation: String, Sendable {
        /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`
        case geluTanh
        /// `0.5 x (1 + erf(x / sqrt 2))`
        case geluExact
    }

    /// The activation function `hiddenActivation` names (transformers' ACT2FN).
    /// - Throws: `PrismError` for any activation outside the GELU family.
    public func activation() throws -> Activation {
        switch hiddenActivation {
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": return .geluTanh
        case "gelu": return .geluExact
        default: throw PrismError("hidden activation '\(hiddenActivation)' is not supported (Gemma uses gelu_pytorch_tanh)")
        }
    }
}

import Foundation
import PrismSupport

/// transformers' configuration-class defaults (5.24: `GemmaConfig`, `Gemma2Config`,
/// `Gemma3TextConfig`), taken by every key a `config.json` leaves out or sets to null.
struct GemmaDefaults {
    var vocabSize: Int
    var hiddenSize: Int
    var intermediateSize: Int
    var numHiddenLayers: Int
    var numAttentionHeads: Int
    var numKeyValueHeads: Int
    var headDim = 256
    var maxPositionEmbeddings: Int
    var rmsNormEps = 1e-6
    var queryPreAttnScalar: Double? = nil
    var slidingWindow: Int? = nil
    var finalLogitSoftcapping: Double? = nil
    var attnLogitSoftcapping: Double? = nil
    var ropeTheta = 10_000.0
    var ropeLocalTheta = 10_000.0

    static func of(_ g: GemmaConfig.Generation) -> GemmaDefaults {
        switch g {
        case .gemma1:
            return GemmaDefaults(
                vocabSize: 256_000, hiddenSize: 3072, intermediateSize: 24_576, numHiddenLayers: 28, numAttentionHeads: 16,
                numKeyValueHeads: 16, maxPositionEmbeddings: 8192)
        case .gemma2:
            return GemmaDefaults(
                vocabSize: 256_000, hiddenSize: 2304, intermediateSize: 9216, numHiddenLayers: 26, numAttentionHeads: 8,
                numKeyValueHeads: 4, maxPositionEmbeddings: 8192, queryPreAttnScalar: 256, slidingWindow: 4096,
                finalLogitSoftcapping: 30, attnLogitSoftcapping: 50)
        case .gemma3:
            return GemmaDefaults(
                vocabSize: 262_208, hiddenSize: 2304, intermediateSize: 9216, numHiddenLayers: 26, numAttentionHeads: 8,
                numKeyValueHeads: 4, maxPositionEmbeddings: 131_072, queryPreAttnScalar: 256, slidingWindow: 4096,
                ropeTheta: 1_000_000)
        }
    }
}

/// Reads a `config.json` object the way transformers' configuration classes do: typed keys,
/// null taken as absent, defaults per model type, the older key spellings
/// (`rope_theta`, `rope_scaling`, `rope_local_base_freq`, `sliding_window_pattern`) mapped to
/// the newer ones, and every feature the runtime lacks refused by name.
struct ConfigReader {
    let obj: [String: Any]
    let source: String

    init(_ obj: [String: Any], source: String) {
        self.obj = obj
        self.source = source
    }

    func config() throws -> GemmaConfig {
        guard let type = try string("model_type") else { throw PrismError("\(source): missing model_type") }
        if type == "gemma3" {
            // The multimodal wrapper: the language model's config is `text_config`.
            guard let text = obj["text_config"] as? [String: Any] else {
                throw PrismError("\(source): model_type 'gemma3' without a text_config object")
            }
            var inner = text
            if inner["model_type"] == nil || inner["model_type"] is NSNull { inner["model_type"] = "gemma3_text" }
            var config = try ConfigReader(inner, source: source + " (text_config)").config()
            config.architectures = try stringArray("architectures")
            return config
        }
        guard let generation = GemmaConfig.Generation(rawValue: type) else {
            throw PrismError("\(source): unsupported model_type '\(type)' (this tool runs gemma, gemma2, gemma3_text and gemma3)")
        }
        let d = GemmaDefaults.of(generation)
        try refuseUnsupported(generation)
        let layers = try int("num_hidden_layers") ?? d.numHiddenLayers
        // Checked before anything is sized by it (the layer types below).
        guard layers > 0, layers <= 1024 else { throw PrismError("\(source): num_hidden_layers = \(layers) is out of range") }
        let heads = try int("num_attention_heads") ?? d.numAttentionHeads
        let headDim = try int("head_dim") ?? d.headDim
        let architectures = try stringArray("architectures")
        if let a = architectures, !a.isEmpty {
            let accepted = [generation.causalLMClass] + (generation == .gemma3 ? ["Gemma3ForConditionalGeneration"] : [])
            guard a.contains(where: accepted.contains) else {
                throw PrismError("\(source): architectures \(a) do not include \(generation.causalLMClass)")
            }
        }
        let (ropeFull, ropeSliding) = try ropes(generation, d)
        var config = GemmaConfig(
            generation: generation, vocabSize: try int("vocab_size") ?? d.vocabSize,
            hiddenSize: try int("hidden_size") ?? d.hiddenSize, intermediateSize: try int("intermediate_size") ?? d.intermediateSize,
            numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: try int("num_key_value_heads") ?? d.numKeyValueHeads,
            headDim: headDim, maxPositionEmbeddings: try int("max_position_embeddings") ?? d.maxPositionEmbeddings,
            rmsNormEps: try double("rms_norm_eps") ?? d.rmsNormEps, hiddenActivation: try activation(generation),
            queryPreAttnScalar: generation == .gemma1 ? Double(headDim) : try double("query_pre_attn_scalar") ?? d.queryPreAttnScalar,
            slidingWindow: generation == .gemma1 ? nil : try slidingWindow(d),
            layerTypes: try layerTypes(generation, layers: layers),
            finalLogitSoftcapping: generation == .gemma1 ? nil : try optionalDouble("final_logit_softcapping", d.finalLogitSoftcapping),
            attnLogitSoftcapping: generation == .gemma1 ? nil : try optionalDouble("attn_logit_softcapping", d.attnLogitSoftcapping),
            ropeFull: ropeFull, ropeSliding: ropeSliding,
            bosTokenId: try int("bos_token_id") ?? 2, eosTokenId: try firstInt("eos_token_id") ?? 1, padTokenId: try int("pad_token_id") ?? 0)
        config.architectures = architectures
        return config
    }

    /// Features transformers has for these classes that this runtime does not implement.
    func refuseUnsupported(_ g: GemmaConfig.Generation) throws {
        if try bool("attention_bias") == true { throw PrismError("\(source): attention_bias = true is not supported (Gemma has no biases)") }
        if try bool("tie_word_embeddings") == false {
            throw PrismError("\(source): tie_word_embeddings = false is not supported (Gemma ties the unembedding to the embedding)")
        }
        if try bool("use_bidirectional_attention") == true {
            throw PrismError("\(source): use_bidirectional_attention = true is not supported (embedding models; this tool runs causal LMs)")
        }
    }

    /// Gemma 1 reads `hidden_act` (the 2024 files' "gelu" meaning the tanh form); Gemma 2 and 3
    /// read `hidden_activation`, each ignoring the other key, as transformers 5 does.
    func activation(_ g: GemmaConfig.Generation) throws -> String {
        switch g {
        case .gemma1:
            let act = try string("hidden_act") ?? "gelu_pytorch_tanh"
            return act == "gelu" ? "gelu_pytorch_tanh" : act
        case .gemma2, .gemma3:
            return try string("hidden_activation") ?? "gelu_pytorch_tanh"
        }
    }

    func slidingWindow(_ d: GemmaDefaults) throws -> Int? {
        guard let v = obj["sliding_window"] else { return d.slidingWindow }
        if v is NSNull { return nil }
        return try int("sliding_window")
    }

    /// `layer_types` when given; otherwise transformers' rule: Gemma 2 alternates from a
    /// sliding layer 0; Gemma 3 makes every `sliding_window_pattern`-th layer (default 6) full.
    func layerTypes(_ g: GemmaConfig.Generation, layers: Int) throws -> [GemmaConfig.LayerType] {
        if g == .gemma1 { return Array(repeating: .fullAttention, count: layers) }
        if let names = try stringArray("layer_types") {
            return try names.enumerated().map { i, name in
                guard let t = GemmaConfig.LayerType(rawValue: name) else {
                    throw PrismError("\(source): layer_types[\(i)] = '\(name)' is not supported (sliding_attention or full_attention)")
                }
                return t
            }
        }
        let pattern = g == .gemma2 ? 2 : try int("sliding_window_pattern") ?? 6
        guard pattern > 0 else { throw PrismError("\(source): sliding_window_pattern = \(pattern) must be positive") }
        return (0..<max(0, layers)).map { ($0 + 1) % pattern != 0 ? .slidingAttention : .fullAttention }
    }

    /// The RoPE of full and sliding layers from whichever keys the file has.
    func ropes(_ g: GemmaConfig.Generation, _ d: GemmaDefaults) throws -> (GemmaConfig.RoPE, GemmaConfig.RoPE) {
        let params = try object("rope_parameters")
        let scaling = try object("rope_scaling")
        if g == .gemma3 {
            let nested = params.map { $0["full_attention"] != nil || $0["sliding_attention"] != nil } ?? false
            if let params, !nested, !params.isEmpty {
                throw PrismError("\(source): rope_parameters must be nested by layer type (full_attention, sliding_attention) for gemma3_text")
            }
            // transformers starts from {rope_type: default} and merges `rope_scaling` into the full
            // layers' entry: an old-style {"type": "linear"} then leaves rope_type "default" with a
            // factor, which transformers silently ignores and this reader refuses (see `rope`).
            var full: [String: Any] = ["rope_type": "default"]
            if let given = try params.flatMap({ try sub($0, "full_attention") }) { full.merge(given) { _, new in new } }
            if let scaling { full.merge(scaling) { _, new in new } }
            let sliding = try params.flatMap { try sub($0, "sliding_attention") } ?? [:]
            return (
                try rope(full, defaultTheta: try double("rope_theta") ?? d.ropeTheta, what: "rope_parameters.full_attention"),
                try rope(sliding, defaultTheta: try double("rope_local_base_freq") ?? d.ropeLocalTheta, what: "rope_parameters.sliding_attention")
            )
        }
        // transformers: `rope_scaling` replaces `rope_parameters`; a top-level rope_theta fills in.
        let flat = scaling ?? params ?? [:]
        let r = try rope(flat, defaultTheta: try double("rope_theta") ?? d.ropeTheta, what: scaling != nil ? "rope_scaling" : "rope_parameters")
        return (r, r)
    }

    func sub(_ o: [String: Any], _ key: String) throws -> [String: Any]? {
        guard let v = o[key], !(v is NSNull) else { return nil }
        guard let d = v as? [String: Any] else { throw PrismError("\(source): rope_parameters.\(key) must be an object") }
        return d
    }

    func rope(_ o: [String: Any], defaultTheta: Double, what: String) throws -> GemmaConfig.RoPE {
        let inner = ConfigReader(o, source: "\(source) (\(what))")
        let type = try inner.string("rope_type") ?? inner.string("type") ?? "default"
        let factor = try inner.double("factor") ?? 1
        if type == "default", o["factor"] != nil, factor != 1 {
            throw PrismError("\(source): \(what) has factor \(factor) with rope_type 'default'")
        }
        if let partial = try inner.double("partial_rotary_factor"), partial != 1 {
            throw PrismError("\(source): partial_rotary_factor = \(partial) is not supported")
        }
        return GemmaConfig.RoPE(theta: try inner.double("rope_theta") ?? defaultTheta, type: type, factor: factor)
    }

    // MARK: typed keys (null = absent)

    /// JSONSerialization gives booleans as NSNumber too: tell them apart by their type code.
    static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    func value(_ key: String) -> Any? {
        guard let v = obj[key], !(v is NSNull) else { return nil }
        return v
    }

    func wrongType(_ key: String, _ expected: String) -> PrismError {
        PrismError("\(source): wrong type for \(key) (expected \(expected))")
    }

    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        // JSONSerialization gives NSNumber for both; a bool or a fraction is not an integer.
        guard let n = v as? NSNumber, !Self.isBool(n), let i = Int(exactly: n.doubleValue) else {
            throw wrongType(key, "an integer")
        }
        return i
    }

    func firstInt(_ key: String) throws -> Int? {
        if let list = value(key) as? [Any] {
            guard let n = list.first as? NSNumber, let i = Int(exactly: n.doubleValue) else { return nil }
            return i
        }
        return try int(key)
    }

    func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, !Self.isBool(n) else { throw wrongType(key, "a number") }
        return n.doubleValue
    }

    /// A key whose null means "off" rather than "default" (transformers' `float | None`).
    func optionalDouble(_ key: String, _ fallback: Double?) throws -> Double? {
        guard let v = obj[key] else { return fallback }
        if v is NSNull { return nil }
        return try double(key)
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, Self.isBool(n) else { throw wrongType(key, "true or false") }
        return n.boolValue
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw wrongType(key, "a string") }
        return s
    }

    func stringArray(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let a = v as? [String] else { throw wrongType(key, "a list of strings") }
        return a
    }

    func object(_ key: String) throws -> [String: Any]? {
        guard let v = value(key) else { return nil }
        guard let o = v as? [String: Any] else { throw wrongType(key, "an object") }
        return o
    }
}

import Foundation
import PrismFormats
import PrismSupport

/// A Gemma GGUF (as llama.cpp's converter writes it) read as the Hugging Face model it came
/// from: the configuration rebuilt from the metadata plus the architecture's documented
/// defaults for what llama.cpp does not store, and each tensor's llama.cpp name mapped to its
/// Hugging Face name. Loading only; the converter streams the tensors.
public struct GGUFGemma {
    public let file: GGUFFile
    public let config: GemmaConfig
    /// Values the file does not hold, taken from llama.cpp's and transformers' rules for the
    /// architecture: `[key: "value (why)"]`, stored with the converted config and shown by `inspect`.
    public let defaultsUsed: [String: String]
    /// Hugging Face name -> the GGUF tensor holding it.
    public let tensors: [String: GGUFTensorInfo]

    /// - Throws: `PrismError` (one line, naming the file) for another architecture, missing or
    ///   mistyped metadata, a tensor of the wrong shape, a tensor missing or unknown.
    public init(_ file: GGUFFile) throws {
        self.file = file
        let path = file.path
        let arch = try file.string("general.architecture")
        let generation: GemmaConfig.Generation
        switch arch {
        case "gemma": generation = .gemma1
        case "gemma2": generation = .gemma2
        case "gemma3": generation = .gemma3
        default: throw PrismError("\(path): unsupported architecture '\(arch)' (this tool converts gemma, gemma2 and gemma3 GGUFs)")
        }
        func key(_ k: String) -> String { "\(arch).\(k)" }
        var defaults: [String: String] = [:]
        let d = try file.int(key("embedding_length"))
        let layers = try file.int(key("block_count"))
        guard layers > 0, layers <= 1024 else { throw PrismError("\(path): \(key("block_count")) = \(layers) is out of range") }
        let heads = try file.int(key("attention.head_count"))
        let kvHeads = try file.intIfPresent(key("attention.head_count_kv")) ?? heads
        let headDim = try file.intIfPresent(key("attention.key_length")) ?? (heads > 0 ? d / heads : 0)
        if let v = try file.intIfPresent(key("attention.value_length")), v != headDim {
            throw PrismError("\(path): attention.value_length \(v) differs from key_length \(headDim) (Gemma uses one head size)")
        }
        guard let embedding = file.tensor(named: "token_embd.weight"), embedding.dims.count == 2 else {
            throw PrismError("\(path): no token_embd.weight matrix")
        }
        let vocab = try file.stringArrayIfPresent("tokenizer.ggml.tokens")?.count ?? embedding.dims[1]
        let eps = try file.float(key("attention.layer_norm_rms_epsilon"))
        let ropeBase = try file.floatIfPresent(key("rope.freq_base"))
        var rope = GemmaConfig.RoPE(theta: ropeBase ?? (generation == .gemma3 ? 1_000_000 : 10_000), type: "default", factor: 1)
        if ropeBase == nil { defaults["rope_theta"] = "\(rope.theta) (\(arch) default)" }
        if let scaling = try file.stringIfPresent(key("rope.scaling.type")), scaling != "none" {
            guard scaling == "linear" else { throw PrismError("\(path): rope scaling '\(scaling)' is not supported (only linear)") }
            rope.type = "linear"
            rope.factor = try file.float(key("rope.scaling.factor"))
        }
        // llama.cpp stores neither the attention scale nor the window pattern nor the local RoPE
        // base: it applies the architecture's rules, and so does this converter.
        var qpas: Double? = nil
        var window: Int? = nil
        var types: [GemmaConfig.LayerType]? = nil
        var sliding: GemmaConfig.RoPE? = nil
        if generation != .gemma1 {
            // llama.cpp: 1/sqrt(n_embd / n_head) for the 27B models, 1/sqrt(head_dim) otherwise
            // (transformers' configs say query_pre_attn_scalar = 144 for gemma-2-27b, 168 for gemma-3-27b).
            let is27B = (generation == .gemma2 && layers == 46) || (generation == .gemma3 && layers == 62)
            qpas = Double(is27B ? d / heads : headDim)
            defaults["query_pre_attn_scalar"] = "\(Int(qpas ?? 0)) (\(is27B ? "hidden_size / heads, the 27B rule" : "head_dim"), as llama.cpp computes it)"
            window = try file.intIfPresent(key("attention.sliding_window"))
            if window == nil {
                window = 4096
                defaults["sliding_window"] = "4096 (transformers' default for \(arch))"
            }
            let pattern = generation == .gemma2 ? 2 : 6
            types = (0..<layers).map { ($0 + 1) % pattern != 0 ? .slidingAttention : .fullAttention }
            defaults["layer_types"] =
                generation == .gemma2
                ? "sliding and full alternating from layer 0 (llama.cpp and transformers)"
                : "every 6th layer full, the others sliding (llama.cpp's swa pattern 6, transformers' sliding_window_pattern 6)"
            if generation == .gemma3 {
                sliding = GemmaConfig.RoPE(theta: 10_000, type: "default", factor: 1)
                defaults["rope_local_base_freq"] = "10000 (llama.cpp's rope_freq_base_train_swa and transformers' default)"
            }
        }
        let finalCap = try file.floatIfPresent(key("final_logit_softcapping"))
        let attnCap = try file.floatIfPresent(key("attn_logit_softcapping"))
        var config = GemmaConfig(
            generation: generation, vocabSize: vocab, hiddenSize: d, intermediateSize: try file.int(key("feed_forward_length")),
            numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim: headDim,
            maxPositionEmbeddings: try file.intIfPresent(key("context_length")) ?? 8192, rmsNormEps: eps,
            queryPreAttnScalar: qpas, slidingWindow: window, layerTypes: types, finalLogitSoftcapping: finalCap,
            attnLogitSoftcapping: attnCap, ropeFull: rope, ropeSliding: sliding,
            bosTokenId: try file.intIfPresent("tokenizer.ggml.bos_token_id") ?? 2,
            eosTokenId: try file.intIfPresent("tokenizer.ggml.eos_token_id") ?? 1,
            padTokenId: try file.intIfPresent("tokenizer.ggml.padding_token_id") ?? 0)
        config.architectures = [generation.causalLMClass]
        try config.validate(source: path)
        self.config = config
        defaultsUsed = defaults
        tensors = try Self.mapNames(file, config: config)
    }

    /// llama.cpp's tensor names and the Hugging Face names they hold, for one layer.
    static func layerNames(_ g: GemmaConfig.Generation) -> [(gguf: String, hf: String)] {
        var m: [(String, String)] = [
            ("attn_norm", "input_layernorm"), ("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
            ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj"),
            ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj"),
        ]
        switch g {
        case .gemma1:
            // Gemma 1's post_attention_layernorm is the MLP's input norm: llama.cpp's ffn_norm.
            m.append(("ffn_norm", "post_attention_layernorm"))
        case .gemma2, .gemma3:
            m += [
                ("post_attention_norm", "post_attention_layernorm"), ("ffn_norm", "pre_feedforward_layernorm"),
                ("post_ffw_norm", "post_feedforward_layernorm"),
            ]
            if g == .gemma3 { m += [("attn_q_norm", "self_attn.q_norm"), ("attn_k_norm", "self_attn.k_norm")] }
        }
        return m.map { (gguf: $0.0, hf: $0.1) }
    }

    /// Every tensor of the file, under its Hugging Face name, with its shape checked; any tensor
    /// the model does not consume is refused by name (an untied `output.weight` among them).
    static func mapNames(_ file: GGUFFile, config c: GemmaConfig) throws -> [String: GGUFTensorInfo] {
        var ggufToHF: [String: String] = ["token_embd.weight": GemmaTensorNames.embedding, "output_norm.weight": GemmaTensorNames.finalNorm]
        for l in 0..<c.numHiddenLayers {
            for (g, h) in layerNames(c.generation) { ggufToHF["blk.\(l).\(g).weight"] = GemmaTensorNames.layer(l, h + ".weight") }
        }
        let expected = GemmaTensorNames.expectedShapes(c)
        var out: [String: GGUFTensorInfo] = [:]
        for t in file.tensors {
            guard let hf = ggufToHF[t.name] else {
                if t.name == "output.weight" {
                    throw PrismError("\(file.path): tensor output.weight: Gemma ties the unembedding to token_embd.weight; untied files are not supported")
                }
                throw PrismError("\(file.path): unexpected tensor \(t.name) (not part of a \(c.generation.displayName) model with this metadata)")
            }
            guard let shape = expected[hf], t.shape == shape else {
                throw PrismError("\(file.path): tensor \(t.name) has shape \(t.shape), expected \(expected[hf] ?? [])")
            }
            out[hf] = t
        }
        for name in GemmaTensorNames.ordered(c) where out[name] == nil {
            let gguf = ggufToHF.first { $0.value == name }?.key ?? name
            throw PrismError("\(file.path): missing tensor \(gguf)")
        }
        return out
    }

    /// Whether a Hugging Face tensor is an RMSNorm weight: llama.cpp stored it as `1 + w`
    /// (its RMSNorm multiplies by the weight, Gemma's by `1 + w`); subtract 1 to get `w` back.
    public static func isNorm(_ hfName: String) -> Bool { hfName.hasSuffix("norm.weight") }
}

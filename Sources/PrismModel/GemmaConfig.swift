import Foundation
import PrismSupport

/// Gemma's `config.json`, keeping Hugging Face's key names. Two forms exist in the wild:
/// the 2024 gemma-2b file (`rope_theta` at top level, `hidden_act: "gelu"`, `torch_dtype`)
/// and newer files (`rope_parameters: {rope_theta, rope_type}`, `hidden_activation`, `dtype`).
public struct GemmaConfig: Codable, Equatable, Sendable {
    public struct RopeParameters: Codable, Equatable, Sendable {
        public var rope_theta: Double?
        public var rope_type: String?
    }

    public var model_type: String
    public var architectures: [String]?
    public var vocab_size: Int
    public var hidden_size: Int
    public var intermediate_size: Int
    public var num_hidden_layers: Int
    public var num_attention_heads: Int
    public var num_key_value_heads: Int?
    public var head_dim: Int?
    public var max_position_embeddings: Int
    public var rms_norm_eps: Double
    public var rope_theta: Double?
    public var rope_parameters: RopeParameters?
    public var hidden_act: String?
    public var hidden_activation: String?
    public var attention_bias: Bool?
    public var tie_word_embeddings: Bool?
    public var bos_token_id: Int?
    public var eos_token_id: Int?
    public var pad_token_id: Int?
    public var torch_dtype: String?
    public var dtype: String?

    public static func load(path: String) throws -> GemmaConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrismError("cannot read \(path)")
        }
        return try decode(data, source: path)
    }

    public static func decode(_ data: Data, source: String = "config.json") throws -> GemmaConfig {
        // model_type is checked before the full decode so that a Llama or Gemma-2 config
        // says so, rather than failing on a missing key.
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PrismError("\(source): not a JSON object")
        }
        guard let type = obj["model_type"] as? String else { throw PrismError("\(source): missing model_type") }
        guard type == "gemma" else {
            throw PrismError("\(source): unsupported model_type '\(type)' (this tool runs Gemma v1, model_type 'gemma')")
        }
        let config: GemmaConfig
        do {
            config = try JSONDecoder().decode(GemmaConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw PrismError("\(source): missing key \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw PrismError("\(source): wrong type for \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw PrismError("\(source): malformed config")
        }
        try config.validate(source: source)
        return config
    }

    public func validate(source: String = "config.json") throws {
        if let a = architectures, !a.isEmpty, !a.contains("GemmaForCausalLM") {
            throw PrismError("\(source): architectures \(a) do not include GemmaForCausalLM")
        }
        // head_dim defaults to hidden_size / num_attention_heads: check the divisor first.
        let positive: [(String, Int?)] = [
            ("vocab_size", vocab_size), ("hidden_size", hidden_size), ("intermediate_size", intermediate_size),
            ("num_hidden_layers", num_hidden_layers), ("num_attention_heads", num_attention_heads),
            ("num_key_value_heads", num_key_value_heads), ("head_dim", head_dim), ("max_position_embeddings", max_position_embeddings),
        ]
        for (k, v) in positive {
            guard let v else { continue }
            if v <= 0 || v > 1 << 24 { throw PrismError("\(source): \(k) = \(v) is out of range") }
        }
        // Every layer's tensors are listed by name when the weights are bound.
        guard num_hidden_layers <= 1024 else { throw PrismError("\(source): num_hidden_layers = \(num_hidden_layers) is out of range") }
        guard headDim > 0 else { throw PrismError("\(source): head_dim = hidden_size / num_attention_heads is 0") }
        guard num_attention_heads % kvHeads == 0 else {
            throw PrismError("\(source): num_attention_heads \(num_attention_heads) is not a multiple of num_key_value_heads \(kvHeads)")
        }
        guard headDim % 2 == 0 else { throw PrismError("\(source): head_dim \(headDim) must be even for RoPE") }
        guard rms_norm_eps >= 0, rms_norm_eps.isFinite else { throw PrismError("\(source): bad rms_norm_eps") }
        guard ropeTheta > 0, ropeTheta.isFinite else { throw PrismError("\(source): bad rope theta") }
        if attention_bias == true { throw PrismError("\(source): attention_bias = true is not Gemma v1") }
        if tie_word_embeddings == false { throw PrismError("\(source): tie_word_embeddings = false is not Gemma v1") }
        if let t = rope_parameters?.rope_type, t != "default" {
            throw PrismError("\(source): rope_type '\(t)' is not supported (only 'default')")
        }
        _ = try activation()
    }

    public var kvHeads: Int { num_key_value_heads ?? num_attention_heads }
    public var headDim: Int { head_dim ?? hidden_size / num_attention_heads }
    public var ropeTheta: Double { rope_parameters?.rope_theta ?? rope_theta ?? 10000 }

    public enum Activation: String, Sendable {
        /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`
        case geluTanh
        /// `0.5 x (1 + erf(x / sqrt 2))`
        case geluExact
    }

    /// `hidden_activation` wins when present; otherwise Gemma runs the tanh GELU even
    /// though the 2024 gemma-2b file says `hidden_act: "gelu"` (as transformers does).
    public func activation() throws -> Activation {
        guard let act = hidden_activation else { return .geluTanh }
        switch act {
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": return .geluTanh
        case "gelu": return .geluExact
        default: throw PrismError("hidden_activation '\(act)' is not supported")
        }
    }
}

import Foundation
import PrismKernels
import PrismModel
import PrismSupport
import XCTest

/// The config reader against transformers' configuration classes: tools/dump_config_defaults.py
/// loaded 35 config.json forms with GemmaConfig, Gemma2Config and Gemma3TextConfig (5.24) and
/// recorded what each resolved to and which RoPE the model then ran. Every form either resolves
/// to the same values here or, where transformers silently ignores what the file says (a flat
/// rope_parameters or an old-style rope_scaling on Gemma 3), or names a feature this runtime
/// lacks, is refused with a one-line error naming the key.
final class ConfigDefaultsTests: XCTestCase {
    struct Derivation: Decodable {
        let model_type: String
        let config_json: [String: JSONValue]
        let result: [String: JSONValue]
        let effective_rope: [String: Rope]
        struct Rope: Decodable { let rope_type: String; let inv_freq_1: Double }
    }
    struct File: Decodable { let derivations: [Derivation] }

    /// A JSON value, to rebuild each config and read the results.
    enum JSONValue: Decodable {
        case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let n = try? c.decode(Double.self) {
                self = .number(n)
            } else if let s = try? c.decode(String.self) {
                self = .string(s)
            } else if let a = try? c.decode([JSONValue].self) {
                self = .array(a)
            } else {
                self = .object(try c.decode([String: JSONValue].self))
            }
        }
        var any: Any {
            switch self {
            case .null: return NSNull()
            case .bool(let b): return b
            case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? Int(n) as Any : n
            case .string(let s): return s
            case .array(let a): return a.map(\.any)
            case .object(let o): return o.mapValues(\.any)
            }
        }
        var number: Double? { if case .number(let n) = self { return n }; return nil }
    }

    func testAgainstTransformersConfigClasses() throws {
        let url = URL(fileURLWithPath: Fixtures.path("reference/config-defaults.json"))
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        XCTAssertEqual(file.derivations.count, 35)
        var resolved = 0, refused = 0
        for (i, d) in file.derivations.enumerated() {
            var obj = d.config_json.mapValues(\.any)
            obj["model_type"] = d.model_type
            let data = try JSONSerialization.data(withJSONObject: obj)
            let tag =
                "derivation \(i) \(d.model_type) \(String(decoding: try JSONSerialization.data(withJSONObject: d.config_json.mapValues(\.any)), as: UTF8.self))"
            let flatRope3 =
                d.model_type == "gemma3_text"
                && { if case .object(let o) = d.config_json["rope_parameters"] { return o["full_attention"] == nil } else { return false } }()
            let oldScaling = { if case .object(let o) = d.config_json["rope_scaling"] { return o["type"] != nil } else { return false } }()
            let expectRefusal =
                d.config_json["sliding_window"].map { if case .null = $0 { return true } else { return false } } == true
                || d.config_json["use_bidirectional_attention"].map { if case .bool(true) = $0 { return true } else { return false } } == true
                || flatRope3 || oldScaling
            if expectRefusal {
                XCTAssertThrowsError(try GemmaConfig.decode(data), tag) { e in XCTAssertNotNil(e as? PrismError, tag) }
                refused += 1
                continue
            }
            let c = try GemmaConfig.decode(data)
            resolved += 1
            func want(_ key: String) -> Double? { d.result[key]?.number }
            XCTAssertEqual(Double(c.vocabSize), want("vocab_size"), tag)
            XCTAssertEqual(Double(c.hiddenSize), want("hidden_size"), tag)
            XCTAssertEqual(Double(c.intermediateSize), want("intermediate_size"), tag)
            XCTAssertEqual(Double(c.numHiddenLayers), want("num_hidden_layers"), tag)
            XCTAssertEqual(Double(c.numAttentionHeads), want("num_attention_heads"), tag)
            XCTAssertEqual(Double(c.numKeyValueHeads), want("num_key_value_heads"), tag)
            XCTAssertEqual(Double(c.headDim), want("head_dim"), tag)
            XCTAssertEqual(Double(c.maxPositionEmbeddings), want("max_position_embeddings"), tag)
            XCTAssertEqual(c.rmsNormEps, want("rms_norm_eps"), tag)
            let actKey = d.model_type == "gemma" ? "hidden_act" : "hidden_activation"
            if case .string(let act) = d.result[actKey] { XCTAssertEqual(c.hiddenActivation, act, tag) } else { XCTFail("\(tag): no \(actKey)") }
            if d.model_type != "gemma" {
                XCTAssertEqual(c.queryPreAttnScalar, want("query_pre_attn_scalar"), tag)
                XCTAssertEqual(c.slidingWindow.map(Double.init), want("sliding_window"), tag)
                XCTAssertEqual(c.finalLogitSoftcapping, want("final_logit_softcapping"), tag)
                XCTAssertEqual(c.attnLogitSoftcapping, want("attn_logit_softcapping"), tag)
                if case .array(let types) = d.result["layer_types"] {
                    XCTAssertEqual(c.layerTypes.map(\.rawValue), types.map { if case .string(let s) = $0 { return s } else { return "?" } }, tag)
                }
            }
            // The RoPE the model ran: the second inverse frequency of each kind of layer.
            for (kind, rope) in d.effective_rope {
                let r = kind == "sliding_attention" ? c.ropeSliding : c.ropeFull
                XCTAssertEqual(r.type, rope.rope_type, "\(tag) \(kind)")
                let inv = Rope(headDim: c.headDim, theta: r.theta, factor: r.factor).invFreq[1]
                XCTAssertEqual(Double(inv), rope.inv_freq_1, accuracy: 1e-6 * rope.inv_freq_1, "\(tag) \(kind)")
            }
        }
        XCTAssertEqual(resolved + refused, 35)
        XCTAssertGreaterThanOrEqual(resolved, 27)
    }
}

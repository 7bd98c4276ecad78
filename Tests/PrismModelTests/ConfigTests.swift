import Foundation
import PrismModel
import PrismSupport
import XCTest

final class ConfigTests: XCTestCase {
    let base: [String: Any] = [
        "model_type": "gemma", "vocab_size": 256000, "hidden_size": 2048, "intermediate_size": 16384,
        "num_hidden_layers": 18, "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256,
        "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
    ]

    func config(_ extra: [String: Any], removing: [String] = []) throws -> GemmaConfig {
        var o = base
        for (k, v) in extra { o[k] = v }
        for k in removing { o.removeValue(forKey: k) }
        return try GemmaConfig.decode(try JSONSerialization.data(withJSONObject: o))
    }

    func test2024Form() throws {
        let c = try config(["rope_theta": 10000.0, "hidden_act": "gelu", "torch_dtype": "bfloat16"])
        XCTAssertEqual(c.ropeTheta, 10000)
        XCTAssertEqual(try c.activation(), .geluTanh, "gemma runs tanh GELU even when hidden_act says gelu")
    }

    func testNewForm() throws {
        let c = try config(["rope_parameters": ["rope_theta": 500.0, "rope_type": "default"], "hidden_activation": "gelu_pytorch_tanh", "dtype": "float32"])
        XCTAssertEqual(c.ropeTheta, 500)
        XCTAssertEqual(try c.activation(), .geluTanh)
        // transformers 5's GemmaConfig reads hidden_act only: a Gemma 1 hidden_activation is ignored.
        XCTAssertEqual(try config(["hidden_activation": "gelu"]).activation(), .geluTanh, "Gemma 1 reads hidden_act")
        XCTAssertEqual(try config(["hidden_act": "gelu_pytorch_tanh"]).activation(), .geluTanh)
        // Gemma 2 reads hidden_activation, and "gelu" there is the exact (erf) GELU.
        XCTAssertEqual(
            try config(["model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_activation": "gelu"]).activation(), .geluExact)
    }

    func testRefusals() {
        XCTAssertThrowsError(try config(["model_type": "llama"])) { e in
            XCTAssertTrue((e as? PrismError)?.message.contains("unsupported model_type 'llama'") == true)
        }
        XCTAssertThrowsError(try config(["model_type": "gemma2", "architectures": ["GemmaForCausalLM"]]))
        XCTAssertThrowsError(try config([:], removing: ["model_type"]))
        // An absent key takes transformers' default for the model type.
        XCTAssertEqual(try config([:], removing: ["hidden_size"]).hiddenSize, 3072)
        XCTAssertEqual(try config(["num_attention_heads": 16], removing: ["head_dim", "num_key_value_heads"]).headDim, 256)
        XCTAssertEqual(try config(["num_attention_heads": 16], removing: ["head_dim", "num_key_value_heads"]).numKeyValueHeads, 16)
        XCTAssertThrowsError(try config(["hidden_size": "64"])) { e in
            XCTAssertEqual((e as? PrismError)?.message, "config.json: wrong type for hidden_size (expected an integer)")
        }
        XCTAssertThrowsError(try config(["attention_bias": true]))
        XCTAssertThrowsError(try config(["tie_word_embeddings": false]))
        XCTAssertThrowsError(try config(["num_key_value_heads": 3]))
        XCTAssertThrowsError(try config(["hidden_act": "relu"]))
        XCTAssertThrowsError(try config(["rope_parameters": ["rope_theta": 10000.0, "rope_type": "yarn"]]))
        XCTAssertThrowsError(try GemmaConfig.decode(Data("[1,2]".utf8)))
    }
}

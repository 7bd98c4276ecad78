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
        XCTAssertEqual(try config(["hidden_activation": "gelu"]).activation(), .geluExact, "hidden_activation wins")
    }

    func testRefusals() {
        XCTAssertThrowsError(try config(["model_type": "llama"])) { e in
            XCTAssertTrue((e as? PrismError)?.message.contains("unsupported model_type 'llama'") == true)
        }
        XCTAssertThrowsError(try config(["model_type": "gemma2"]))
        XCTAssertThrowsError(try config([:], removing: ["model_type"]))
        XCTAssertThrowsError(try config([:], removing: ["hidden_size"])) { e in
            XCTAssertTrue((e as? PrismError)?.message.contains("missing key hidden_size") == true)
        }
        XCTAssertThrowsError(try config(["num_key_value_heads": 3]))
        XCTAssertThrowsError(try config(["hidden_activation": "relu"]))
        XCTAssertThrowsError(try config(["rope_parameters": ["rope_theta": 10000.0, "rope_type": "yarn"]]))
        XCTAssertThrowsError(try GemmaConfig.decode(Data("[1,2]".utf8)))
    }
}

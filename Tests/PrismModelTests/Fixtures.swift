import Foundation

/// Paths of the committed fixtures (written by tools/make_fixtures.py with transformers).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { root + "/" + name }

    struct Reference: Decodable {
        struct Sequence: Decodable {
            let ids: [Int]
            let text: String?
            let logits: [[Float]]
        }
        /// Greedy decoding with transformers' KV cache (Gemma 2/3 fixtures).
        struct Generate: Decodable {
            let prompt_ids: [Int]
            let new_ids: [Int]
            let chosen_logits: [Float]
            let top2_margin: [Float]
        }
        let model: String
        let sequences: [Sequence]
        let generate: Generate?
    }

    static func reference(_ model: String) throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("reference/\(model).json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }
}

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
        let model: String
        let sequences: [Sequence]
    }

    static func reference(_ model: String) throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("reference/\(model).json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }
}

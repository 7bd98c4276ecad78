import Foundation
import PrismModel
import PrismStudies
import Prisms
import XCTest

/// The model shipped in models/ (tools/train_small_gemma.py, converted with `prism convert`):
/// it answers the held-out capital prompts and the additions as its model card states
/// (models/tiny-gemma.eval.json holds transformers' own answers for each prompt), and the
/// studies find on it what the card says they find.
final class ShippedModelTests: XCTestCase {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models").path

    struct Eval: Decodable {
        struct Prompt: Decodable {
            let prompt: String
            let ids: [Int]
            let expected_id: Int
            let top1_id: Int
        }
        let accuracy: [String: Double]
        let capital_prompts: [Prompt]
        let addition_prompts: [Prompt]
    }

    func load() throws -> (LoadedModel, Eval) {
        let model = try LoadedModel.open(Self.models + "/tiny-gemma.prism")
        let eval = try JSONDecoder().decode(Eval.self, from: Data(contentsOf: URL(fileURLWithPath: Self.models + "/tiny-gemma.eval.json")))
        return (model, eval)
    }

    /// The int8 file answers like the float32 model transformers trained: the same greedy
    /// token on >= 98% of the card's prompts, and the card's accuracies within 2 points.
    func testAnswersAsTheModelCardStates() throws {
        let (loaded, eval) = try load()
        let m = loaded.model
        for (name, prompts, key) in [
            ("held-out capital template", eval.capital_prompts, "capital_heldout_all"),
            ("additions", eval.addition_prompts, "addition_first_token"),
        ] {
            var agree = 0, correct = 0
            for p in prompts {
                let logits = try m.forward([p.ids], cache: m.makeCache(sequences: 1, capacity: p.ids.count), logitsAt: [[p.ids.count - 1]])[0][0]
                let top1 = logits.indices.max { logits[$0] < logits[$1] } ?? -1
                if top1 == p.top1_id { agree += 1 }
                if top1 == p.expected_id { correct += 1 }
            }
            let accuracy = Double(correct) / Double(prompts.count)
            print("shipped model, \(name): accuracy \(correct)/\(prompts.count), agreement with transformers \(agree)/\(prompts.count)")
            XCTAssertGreaterThanOrEqual(Double(agree) / Double(prompts.count), 0.98, name)
            XCTAssertEqual(accuracy, try XCTUnwrap(eval.accuracy[key]), accuracy: 0.02, name)
        }
    }

    /// The prompts are tokenized by prism exactly as the training script's tokenizer did.
    func testTokenizationMatchesTraining() throws {
        let (loaded, eval) = try load()
        let ctx = try StudyContext(loaded: loaded)
        for p in eval.capital_prompts + eval.addition_prompts {
            XCTAssertEqual(ctx.tokenizer.encode(p.prompt), p.ids, p.prompt)
        }
    }

    /// The article's findings, on the shipped model (README, "Studies"): the country token is
    /// read by the top heads, the top head's frozen map picks each country's own capital, and
    /// the summed neuron templates peak at the right digit for most additions.
    func testStudiesFindWhatTheREADMEStates() throws {
        let (loaded, _) = try load()
        let ctx = try StudyContext(loaded: loaded)
        let dir = NSTemporaryDirectory() + "shipped-\(UUID().uuidString)"
        // A set's parent must exist (as for a single file).
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try CapitalsStudy().run(ctx, output: dir + "/capitals")
        XCTAssertEqual(c.correct, 9)
        XCTAssertGreaterThanOrEqual(c.mapWins, 8, "own capital wins the head's map for most countries")
        XCTAssertGreaterThanOrEqual(Double(c.readsCountry) / Double(c.readsCountryChecked), 0.8)
        let a = try AdditionStudy().run(ctx, output: dir + "/addition")
        XCTAssertEqual(a.correct, 81)
        XCTAssertGreaterThanOrEqual(Double(a.peaksRight) / Double(a.prompts), 0.7, "README: 61 of 81")
        let d = try DigitsStudy().run(ctx, output: dir + "/digits")
        XCTAssertGreaterThan(d.explained.0 + d.explained.1, 0.5)
    }
}

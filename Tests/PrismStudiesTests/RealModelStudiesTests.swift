import Foundation
import PrismModel
import XCTest

@testable import PrismStudies

/// The studies on gemma-3-270m with their defaults (README, "The studies"): skipped when
/// `models/gemma-3-270m.prism` is absent (`make run` or tools/fetch_gemma3_270m.py plus
/// `prism convert` write it). The bounds are the README's findings with some slack.
final class RealModelStudiesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("models/gemma-3-270m.prism").path

    func context() throws -> StudyContext {
        guard FileManager.default.fileExists(atPath: Self.model) else {
            throw XCTSkip("\(Self.model) is absent (make run converts gemma-3-270m there)")
        }
        return try StudyContext(loaded: LoadedModel.open(Self.model))
    }

    func testCapitalsOnGemma3() throws {
        let ctx = try context()
        XCTAssertTrue(ctx.hasRealVocabulary)
        let f = try CapitalsStudy().compute(ctx)
        let r = f.result
        XCTAssertEqual(r.prefix, CapitalsStudy.fewShotPrefix)
        XCTAssertEqual(r.dropped, ["New Delhi"], "India's capital is two tokens; every other default capital is one")
        XCTAssertEqual(r.prompts, 19)
        XCTAssertEqual(f.tokens[r.countryPosition], " France")
        XCTAssertGreaterThanOrEqual(r.correct, 14, "README: 16 of 19 with the few-shot prefix")
        XCTAssertGreaterThanOrEqual(Double(r.readsCountry) / Double(r.readsCountryChecked), 0.9, "README: 56 of 57")
        XCTAssertGreaterThanOrEqual(r.mapWins, 15, "README: 17 of 19")
        XCTAssertLessThan(f.errors.map(abs).max() ?? .infinity, 1e-3, "the prisms add up on the real model")
    }

    func testAdditionAndDigitsOnGemma3() throws {
        let ctx = try context()
        let r = try AdditionStudy().compute(ctx).result
        XCTAssertEqual(r.prefix, AdditionStudy.fewShotPrefix)
        XCTAssertEqual(r.twoDigit.prompts, 45)
        XCTAssertGreaterThanOrEqual(r.twoDigit.correct, 40, "README: 45 of 45 (the first digit of a two-digit sum is always 1)")
        XCTAssertGreaterThanOrEqual(r.oneDigit.correct, 15, "README: 20 of 36")
        let d = try DigitsStudy().compute(ctx)
        XCTAssertEqual(d.ringNeighbours, 10, "README: a ring in order")
        XCTAssertGreaterThan(d.explained.0 + d.explained.1, 0.45)
    }
}

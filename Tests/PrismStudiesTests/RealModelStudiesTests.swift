import Foundation
import PrismConvert
import PrismModel
import XCTest

@testable import PrismStudies

/// The studies on gemma-3-270m with their defaults (README, "The studies"), on
/// `models/gemma-3-270m.prism` (`make run` writes it) or else an int8 conversion of
/// `models/gemma-3-270m-q4_k_m.gguf` made here; skipped when neither exists, unless
/// `PRISM_REQUIRE_REAL_MODEL=1` (make test). The bounds are the README's findings with some slack.
final class RealModelStudiesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("models/gemma-3-270m.prism").path
    static let gguf = root.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    nonisolated(unsafe) static var converted: String?

    override class func tearDown() {
        if let converted { try? FileManager.default.removeItem(atPath: converted) }  // this run's scratch file only
    }

    func context() throws -> StudyContext {
        if FileManager.default.fileExists(atPath: Self.model) { return try StudyContext(loaded: LoadedModel.open(Self.model)) }
        guard FileManager.default.fileExists(atPath: Self.gguf) else {
            if ProcessInfo.processInfo.environment["PRISM_REQUIRE_REAL_MODEL"] == "1" {
                XCTFail("\(Self.gguf) is missing: run python3 tools/fetch_gemma3_270m.py")
            }
            throw XCTSkip("\(Self.model) and \(Self.gguf) are absent (make run fetches and converts gemma-3-270m)")
        }
        if Self.converted == nil {
            var c = Converter()
            c.showProgress = false
            let out = NSTemporaryDirectory() + "studies-gemma-3-270m-\(getpid()).prism"
            _ = try c.convert(input: Self.gguf, output: out)
            Self.converted = out
        }
        return try StudyContext(loaded: LoadedModel.open(try XCTUnwrap(Self.converted)))
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
        XCTAssertGreaterThanOrEqual(r.correct, 14, "README: 15 of 19 with the few-shot prefix")
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
        XCTAssertGreaterThanOrEqual(r.oneDigit.correct, 15, "README: 19 of 36")
        let d = try DigitsStudy().compute(ctx)
        XCTAssertEqual(d.ringNeighbours, 10, "README: a ring in order")
        XCTAssertGreaterThan(d.explained.0 + d.explained.1, 0.45)
    }
}

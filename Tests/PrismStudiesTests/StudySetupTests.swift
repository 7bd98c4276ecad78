import Foundation
import PrismModel
import PrismSupport
import XCTest

@testable import PrismStudies

/// The studies' prompt setup: `--template`/`--prefix` text with escapes, the defaults that follow
/// the model's vocabulary, the single-token candidate filter and what it leaves out, the
/// addition sweep split into one-digit and two-digit sums, and the digits' ring order.
final class StudySetupTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    func context() throws -> StudyContext { try StudyContext(loaded: LoadedModel.open(Self.fixtures + "/tiny-f32")) }

    func testUnescapeUnderstandsNewlineTabAndBackslash() throws {
        XCTAssertEqual(try StudyText.unescape(#"2+3=5\n4+4=8\n"#, option: "--prefix"), "2+3=5\n4+4=8\n")
        XCTAssertEqual(try StudyText.unescape(#"a\tb"#, option: "--prefix"), "a\tb")
        XCTAssertEqual(try StudyText.unescape(#"a\\nb"#, option: "--prefix"), #"a\nb"#, "an escaped backslash stays one backslash")
        XCTAssertEqual(try StudyText.unescape("real\nnewline", option: "--prefix"), "real\nnewline", "a newline typed as such passes through")
        XCTAssertEqual(try StudyText.unescape("", option: "--prefix"), "")
        for bad in [#"a\qb"#, #"ends with\"#] {
            XCTAssertThrowsError(try StudyText.unescape(bad, option: "--template"), bad) { error in
                XCTAssertTrue("\(error)".contains("--template"), "the error names the option: \(error)")
            }
        }
        let text = "x\\y\nz\t"
        XCTAssertEqual(try StudyText.unescape(StudyText.escape(text), option: "--prefix"), text, "escape and unescape are inverses")
    }

    /// The filter keeps the pairs whose capital is one token with a leading space, in order,
    /// with their ids, and names the others.
    func testSingleTokenCandidateFilter() {
        let vocabulary = [" Paris": 11, " Tokyo": 12, " Rome": 13]
        let pairs = [("France", "Paris"), ("India", "New Delhi"), ("Japan", "Tokyo"), ("Brazil", "Brasília"), ("Italy", "Rome")]
            .map { CapitalsStudy.Pair(country: $0.0, capital: $0.1) }
        var asked: [String] = []
        let (kept, ids, dropped) = CapitalsStudy.singleTokenCandidates(pairs) { text in
            asked.append(text)
            return vocabulary[text]
        }
        XCTAssertEqual(kept.map(\.country), ["France", "Japan", "Italy"])
        XCTAssertEqual(ids, [11, 12, 13])
        XCTAssertEqual(dropped, ["New Delhi", "Brasília"])
        XCTAssertEqual(asked.first, " Paris", "capitals are looked up with a leading space")
    }

    /// On the fixture's small vocabulary: the article's nine pairs and no prefix by default,
    /// the left-out capitals in the result, and the tokens the filter uses are the tokenizer's.
    func testCapitalsDefaultsAndLeftOutListOnASmallVocabulary() throws {
        let ctx = try context()
        XCTAssertFalse(ctx.hasRealVocabulary)
        let f = try CapitalsStudy().compute(ctx)
        XCTAssertEqual(f.result.prefix, "")
        XCTAssertTrue(f.result.prefixIsDefault)
        XCTAssertEqual(f.prompt, "The capital city of France is")
        XCTAssertEqual(f.candidates.count + f.result.dropped.count, CapitalsStudy.articlePairs.count)
        for capital in f.result.dropped {
            XCTAssertNotEqual(ctx.tokenizer.encode(" " + capital, addBos: false).count, 1, "\(capital) was left out but is one token")
        }
        for capital in f.candidates { XCTAssertNotNil(ctx.tokenId(" " + capital), capital) }
        XCTAssertFalse(f.result.dropped.isEmpty, "the fixture's vocabulary lacks most capitals")
    }

    /// A prefix (given with `\n` escapes) goes before every prompt, and the country token is
    /// found after it: the same token as without the prefix, shifted by the prefix's tokens.
    func testPrefixShiftsTheCountryToken() throws {
        let ctx = try context()
        var s = CapitalsStudy()
        s.pairs = [.init(country: "France", capital: "Paris"), .init(country: "England", capital: "London")]
        let plain = try s.compute(ctx)
        s.prefix = try StudyText.unescape(#"The capital city of England is London.\n"#, option: "--prefix")
        let prefixed = try s.compute(ctx)
        XCTAssertEqual(prefixed.prompt, "The capital city of England is London.\nThe capital city of France is")
        XCTAssertFalse(prefixed.result.prefixIsDefault)
        XCTAssertGreaterThan(prefixed.result.countryPosition, plain.result.countryPosition)
        XCTAssertEqual(prefixed.tokens[prefixed.result.countryPosition], plain.tokens[plain.result.countryPosition])
        XCTAssertEqual(
            prefixed.ids.count - prefixed.result.countryPosition, plain.ids.count - plain.result.countryPosition,
            "the country is as far from the end with the prefix as without")
    }

    /// The defaults on a real vocabulary are the few-shot prefixes and the twenty pairs.
    func testDefaultsFollowTheVocabulary() {
        XCTAssertEqual(CapitalsStudy.defaultPairs(realVocabulary: false).map(\.capital), CapitalsStudy.articlePairs.map(\.capital))
        XCTAssertEqual(CapitalsStudy.defaultPairs(realVocabulary: true).count, 20)
        XCTAssertEqual(CapitalsStudy.defaultPrefix(realVocabulary: false), "")
        XCTAssertTrue(CapitalsStudy.defaultPrefix(realVocabulary: true).hasSuffix("\n"))
        XCTAssertEqual(AdditionStudy.defaultPrefix(realVocabulary: false), "")
        XCTAssertEqual(AdditionStudy.defaultPrefix(realVocabulary: true).split(separator: "\n").count, 3)
        let countries = CapitalsStudy.worldPairs.map(\.country)
        XCTAssertEqual(Set(countries).count, countries.count, "no country twice")
        for example in ["Austria", "Portugal"] { XCTAssertFalse(countries.contains(example), "\(example) is the prefix's example") }
    }

    /// The addition sweep's counts split by the number of digits of a+b, and add up.
    func testAdditionCountsOneAndTwoDigitSumsApart() throws {
        let r = try AdditionStudy().compute(try context()).result
        XCTAssertEqual(r.oneDigit.prompts, 36, "a + b <= 9 for a, b in 1..9")
        XCTAssertEqual(r.twoDigit.prompts, 45)
        XCTAssertEqual(r.oneDigit.correct + r.twoDigit.correct, r.correct)
        XCTAssertEqual(r.oneDigit.peaksRight + r.twoDigit.peaksRight, r.peaksRight)
        let headline = AdditionStudy.headline(r, layer: r.layer, neurons: 8)
        XCTAssertTrue(headline.contains("\(r.twoDigit.peaksRight)/45 two-digit sums"), headline)
        XCTAssertTrue(headline.contains("\(r.oneDigit.peaksRight)/36 one-digit sums"), headline)

        func row(_ a: Int, _ b: Int, model: Int, peak: Int) -> AdditionStudy.PromptRow {
            let right = AdditionStudy.answer(a, b)
            return .init(a: a, b: b, right: right, nextToken: "\(model)", correct: model == right, modelDigit: model, peak: peak, summed: [])
        }
        let (one, two) = AdditionStudy.split([
            row(2, 3, model: 5, peak: 5), row(4, 5, model: 1, peak: 1), row(7, 8, model: 1, peak: 1), row(9, 9, model: 1, peak: 8),
        ])
        XCTAssertEqual(one, .init(prompts: 2, correct: 1, peaksRight: 1, peaksModel: 2))
        XCTAssertEqual(two, .init(prompts: 2, correct: 2, peaksRight: 1, peaksModel: 1))
    }

    /// Points round a circle in digit order make a ring in order; swapping 3 and 7 breaks four
    /// of the ten pairs k, k+1.
    func testDigitsRingOrder() {
        let ring = (0..<10).map { k in (x: cos(Double(k) * .pi / 5), y: sin(Double(k) * .pi / 5)) }
        XCTAssertEqual(DigitsStudy.angularOrder(ring), Array(0...9))
        XCTAssertEqual(DigitsStudy.ringNeighbours(Array(0...9)), 10)
        XCTAssertEqual(DigitsStudy.ringNeighbours(Array((0...9).reversed())), 10, "clockwise is a ring in order too")
        var swapped = ring
        swapped.swapAt(3, 7)
        XCTAssertEqual(DigitsStudy.angularOrder(swapped), [0, 1, 2, 7, 4, 5, 6, 3, 8, 9])
        XCTAssertEqual(DigitsStudy.ringNeighbours(DigitsStudy.angularOrder(swapped)), 6)
    }
}

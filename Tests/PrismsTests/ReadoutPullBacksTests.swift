import Foundation
import PrismModel
import Prisms
import XCTest

/// The target tokens' pull-backs do not depend on the prompt, so a prism keeps them for later
/// prompts. Reusing them must give the same decomposition, bit for bit, as computing them anew.
final class ReadoutPullBacksTests: XCTestCase {
    typealias Item = (source: ActivationSource, position: Int, targets: [Target])

    typealias Reference = PrismReferenceTests

    func item(_ model: GemmaModel, _ c: Reference.Reference.Case, _ targets: [Target]) throws -> Item {
        (try model.record(Array(c.ids[...c.position])).source, c.position, targets)
    }

    func assertIdentical(_ a: Decomposition, _ b: Decomposition, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.targets.count, b.targets.count, file: file, line: line)
        for (x, y) in zip(a.targets, b.targets) {
            XCTAssertEqual(x.logit, y.logit, file: file, line: line)
            XCTAssertEqual(x.attn + x.mlp + [x.embed], y.attn + y.mlp + [y.embed], file: file, line: line)
            XCTAssertEqual(x.heads, y.heads, "heads", file: file, line: line)
            XCTAssertEqual(x.headSources, y.headSources, "head sources", file: file, line: line)
            XCTAssertEqual(x.neurons, y.neurons, "neurons", file: file, line: line)
        }
    }

    /// Pull-backs left by one prompt serve another: identical terms, and still the reference's.
    func testReusedPullBacksAreExact() throws {
        let (loaded, ref) = try Reference.load("tiny-bf16")
        let model = loaded.model
        let c = ref.cases[1]
        let targets = c.targets.map { Target.token($0) }
        let prism = Prism(model: model)
        _ = try prism.decompose(try item(model, ref.cases[0], targets).source, position: ref.cases[0].position, targets: targets)
        XCTAssertEqual(Set(prism.pullBacks.cachedTokens), Set(c.targets))

        let it = try item(model, c, targets)
        let reused = try prism.decompose(it.source, position: it.position, targets: it.targets)
        let fresh = try Prism.once(model).decompose(it.source, position: it.position, targets: it.targets)
        assertIdentical(reused, fresh)
        for (t, want) in zip(reused.targets, c.per_target) {
            for l in 0..<t.neurons.count {
                Reference.assertClose(t.neurons[l], want.neurons[l], "neurons \(l)")
                Reference.assertClose(t.heads[l], want.heads[l], "heads \(l)")
                Reference.assertClose(t.headSources[l].flatMap { $0 }, want.head_sources[l].flatMap { $0 }, "head sources \(l)")
            }
        }
    }

    /// A full cache keeps what the current call needs, evicts the oldest of the rest, and
    /// computes what does not fit for this call only; every path gives the same terms.
    func testSmallCacheEvictsOldestAndStaysExact() throws {
        let (loaded, ref) = try Reference.load("tiny-f32")
        let model = loaded.model
        let twoTokens = 2 * ReadoutPullBacks.bytesPerToken(model.config)
        let prism = Prism(model: model, pullBacks: ReadoutPullBacks(config: model.config, capacityBytes: twoTokens))
        let c = ref.cases[1]
        let (a, b, cc, d) = (c.targets[0], c.targets[1], c.targets[2], c.targets[3])

        let first = try item(model, c, [.token(a), .token(b), .difference(cc, a)])
        assertIdentical(try prism.decomposeMany([first])[0], try Prism.once(model).decomposeMany([first])[0])
        XCTAssertEqual(prism.pullBacks.cachedTokens, [a, b], "three tokens asked, two fit: the first two are kept")

        let second = try item(model, ref.cases[0], [.difference(b, d)])
        assertIdentical(try prism.decomposeMany([second])[0], try Prism.once(model).decomposeMany([second])[0])
        XCTAssertEqual(prism.pullBacks.cachedTokens, [b, d], "the oldest token not asked for is evicted")

        // Two prompts at once, one reusing, one not: each as it is alone.
        let both = try prism.decomposeMany([first, second])
        assertIdentical(both[0], try Prism.once(model).decompose(first.source, position: first.position, targets: first.targets))
        assertIdentical(both[1], try Prism.once(model).decompose(second.source, position: second.position, targets: second.targets))
    }

    /// Pull-backs of one model's weights are refused for another's.
    func testPullBacksBelongToOneModel() throws {
        let (f32, ref) = try Reference.load("tiny-f32")
        let (bf16, _) = try Reference.load("tiny-bf16")
        let shared = ReadoutPullBacks(config: f32.model.config)
        let c = ref.cases[1]
        _ = try Prism(model: f32.model, pullBacks: shared).decompose(
            try item(f32.model, c, [.token(c.targets[0])]).source, position: c.position,
            targets: [.token(c.targets[0])])
        let other = try item(bf16.model, c, [.token(c.targets[0])])
        XCTAssertThrowsError(try Prism(model: bf16.model, pullBacks: shared).decompose(other.source, position: other.position, targets: other.targets))
    }

    /// A prism for one prompt keeps nothing.
    func testOncePrismKeepsNothing() throws {
        let (loaded, ref) = try Reference.load("tiny-f32")
        let prism = Prism.once(loaded.model)
        let c = ref.cases[1]
        _ = try prism.decompose(try item(loaded.model, c, [.token(c.targets[0])]).source, position: c.position, targets: [.token(c.targets[0])])
        XCTAssertEqual(prism.pullBacks.cachedTokens, [])
    }
}

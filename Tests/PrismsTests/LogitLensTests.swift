import Foundation
import PrismModel
import Prisms
import XCTest

/// The logit lens at the library level, on the f32 fixture.
final class LogitLensTests: XCTestCase {
    static let tolerance = 1e-5

    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= Self.tolerance * max(1, abs(a), abs(b)) }

    /// The longest reference prompt, recorded whole (its last position is the lens position).
    func prompt() throws -> (prism: Prism, source: ActivationSource, logits: [Float], targets: [Target]) {
        let (loaded, ref) = try PrismReferenceTests.load("tiny-f32")
        let c = try XCTUnwrap(ref.cases.max { $0.ids.count < $1.ids.count })
        let (source, logits) = try loaded.model.record(Array(c.ids[...c.position]))
        return (Prism(model: loaded.model), source, logits, c.targets.map { Target.token($0) })
    }

    /// At the last layer's output, with the final position's frozen norm, the lens is the
    /// model's logit; with each point's own norm too (there the two scales are the same).
    func testLastPointIsTheLogit() throws {
        let p = try prompt()
        let last = p.source.tokenIds.count - 1
        for mode in LogitLens.NormMode.allCases {
            let points = try LogitLens(prism: p.prism).run(p.source, position: last, targets: p.targets, mode: mode, top: 0)
            let final = try XCTUnwrap(points.last)
            XCTAssertTrue(final.name.hasSuffix(".resid_post"), final.name)
            for (k, t) in p.targets.enumerated() {
                let logit = Double(p.logits[t.ids[0]])
                XCTAssertTrue(close(final.targets[k], logit), "\(mode) target \(t.ids[0]): lens \(final.targets[k]) vs logit \(logit)")
            }
        }
    }

    /// With the frozen norm the lens is additive: its steps between points are the residual
    /// prism's terms (embed, then each attention and MLP write).
    func testFrozenLensStepsAreThePrismTerms() throws {
        let p = try prompt()
        let last = p.source.tokenIds.count - 1
        let d = try p.prism.decompose(p.source, position: last, targets: p.targets)
        let points = try LogitLens(prism: p.prism).run(p.source, position: last, targets: p.targets, mode: .frozen, top: 0)
        let L = d.targets[0].attn.count
        XCTAssertEqual(points.map(\.name), LogitLens.pointNames(layers: L))
        XCTAssertEqual(points.map(\.after), LogitLens.pointAfter(layers: L))
        let byName = Dictionary(uniqueKeysWithValues: points.map { ($0.name, $0.targets) })
        for (k, t) in d.targets.enumerated() {
            func lens(_ name: String) throws -> Double { try XCTUnwrap(byName[name])[k] }
            XCTAssertTrue(close(try lens("blocks.0.resid_pre"), t.embed), "embed")
            for l in 0..<L {
                // Layer l's input is the embedding or layer l-1's output (listed once, as resid_post).
                let input = l == 0 ? try lens("blocks.0.resid_pre") : try lens("blocks.\(l - 1).resid_post")
                let attn = try lens("blocks.\(l).resid_mid") - input
                let mlp = try lens("blocks.\(l).resid_post") - lens("blocks.\(l).resid_mid")
                XCTAssertTrue(close(attn, t.attn[l]), "a\(l) target \(k): \(attn) vs \(t.attn[l])")
                XCTAssertTrue(close(mlp, t.mlp[l]), "m\(l) target \(k): \(mlp) vs \(t.mlp[l])")
            }
        }
    }

    /// Each distinct vector is one point: `blocks.{l+1}.resid_pre` is `blocks.{l}.resid_post`,
    /// so only `blocks.0.resid_pre` of the inputs is listed (1 + 2L points, no name twice).
    func testNoPointIsListedTwice() throws {
        let p = try prompt()
        let L = p.prism.model.config.numHiddenLayers
        let points = try LogitLens(prism: p.prism).run(p.source, position: -1, targets: p.targets, mode: .own, top: 1)
        XCTAssertEqual(points.count, 1 + 2 * L)
        XCTAssertEqual(Set(points.map(\.name)).count, points.count)
        XCTAssertFalse(points.contains { $0.name == "blocks.1.resid_pre" })
        // The vector dropped is the one kept: layer 1's input equals layer 0's output.
        for l in 1..<L {
            XCTAssertEqual(Array(try p.source.row("blocks.\(l).resid_pre", 0)), Array(try p.source.row("blocks.\(l - 1).resid_post", 0)))
        }
    }

    /// At the last point with each point's own norm the lens is the model's output: each
    /// target's probability is the softmax of the model's logits, its rank is `LogitRanks`'s, and
    /// a difference gives both its tokens'.
    func testProbabilityAndRankAreTheModels() throws {
        let p = try prompt()
        let last = p.source.tokenIds.count - 1
        let (a, b) = (p.targets[0].ids[0], p.targets[1].ids[0])
        let points = try LogitLens(prism: p.prism).run(
            p.source, position: last, targets: [.token(a), .token(b), .difference(a, b)], mode: .own, top: 3)
        let final = try XCTUnwrap(points.last)
        let z = p.logits.map(Double.init)
        let m = try XCTUnwrap(z.max())
        let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
        let ranks = LogitRanks(p.logits)
        for (k, id) in [a, b].enumerated() {
            XCTAssertEqual(final.readings[k].map(\.id), [id])
            XCTAssertEqual(final.readings[k][0].probability, exp(z[id] - lse), accuracy: 1e-5)
            XCTAssertEqual(final.readings[k][0].rank, ranks.rank(id))
        }
        XCTAssertEqual(final.readings[2].map(\.id), [a, b])
        XCTAssertEqual(final.readings[2].map(\.rank), [ranks.rank(a), ranks.rank(b)])
        XCTAssertEqual(final.logSumExp, lse, accuracy: 1e-5 * max(1, abs(lse)))
        // The top tokens' probabilities add up to at most 1, and every point's normalizer is finite.
        for pt in points {
            XCTAssertTrue(pt.logSumExp.isFinite, pt.name)
            XCTAssertLessThanOrEqual(pt.top.reduce(0.0) { $0 + exp(Double($1.logit) - pt.logSumExp) }, 1 + 1e-9)
            // A target among the top tokens has the rank of its place there.
            if let j = pt.top.firstIndex(where: { $0.id == a }) { XCTAssertEqual(pt.readings[0][0].rank, j + 1, pt.name) }
        }
    }

    /// Reading every position at once gives each position's own lens (the vocabulary is read
    /// once for all of them, in narrower tiles).
    func testAllPositionsEqualEachPosition() throws {
        let p = try prompt()
        let n = p.source.tokenIds.count
        let lens = LogitLens(prism: p.prism)
        for mode in LogitLens.NormMode.allCases {
            let all = try lens.run(p.source, positions: Array(0..<n), targets: p.targets, mode: mode, top: 4)
            XCTAssertEqual(all.count, n)
            for q in 0..<n {
                let one = try lens.run(p.source, position: q, targets: p.targets, mode: mode, top: 4)
                XCTAssertEqual(all[q].map(\.position), Array(repeating: q, count: one.count))
                for (x, y) in zip(all[q], one) {
                    XCTAssertEqual(x.name, y.name)
                    XCTAssertEqual(x.top.map(\.id), y.top.map(\.id), "\(mode) position \(q) \(x.name)")
                    for (u, v) in zip(x.targets, y.targets) { XCTAssertTrue(close(u, v), "\(mode) \(q) \(x.name): \(u) vs \(v)") }
                    XCTAssertEqual(x.readings.map { $0.map(\.rank) }, y.readings.map { $0.map(\.rank) })
                    XCTAssertTrue(close(x.logSumExp, y.logSumExp))
                }
            }
            // With the frozen norm each position's last point is the model's logit there.
            if mode == .frozen {
                let (_, logits0) = try p.prism.model.record(Array(p.source.tokenIds[...0]))
                let id = p.targets[0].ids[0]
                XCTAssertTrue(close(try XCTUnwrap(all[0].last).targets[0], Double(logits0[id])))
            }
        }
    }

    /// The top tokens at the last point are the model's largest logits, largest first; a
    /// difference target is the difference of its two tokens at every point.
    func testTopTokensAndDifferenceTargets() throws {
        let p = try prompt()
        let last = p.source.tokenIds.count - 1
        let (a, b) = (p.targets[0].ids[0], p.targets[1].ids[0])
        let targets = [Target.token(a), Target.token(b), Target.difference(a, b)]
        let points = try LogitLens(prism: p.prism).run(p.source, position: last, targets: targets, mode: .frozen, top: 5)
        for point in points {
            XCTAssertEqual(point.top.count, 5)
            XCTAssertEqual(point.top.map(\.logit), point.top.map(\.logit).sorted(by: >), point.name)
            XCTAssertTrue(close(point.targets[2], point.targets[0] - point.targets[1]), point.name)
        }
        let best = p.logits.indices.sorted { p.logits[$0] > p.logits[$1] }.prefix(5)
        let final = try XCTUnwrap(points.last)
        XCTAssertEqual(final.top.map(\.id), Array(best))
        for e in final.top { XCTAssertEqual(Double(e.logit), Double(p.logits[e.id]), accuracy: Self.tolerance * max(1, Double(abs(e.logit)))) }

        let all = try LogitLens(prism: p.prism).run(p.source, position: last, targets: targets, mode: .own, top: p.logits.count + 10)
        XCTAssertEqual(all.last?.top.count, p.logits.count, "at most the vocabulary")
    }

    func testBadTargetIsOneLine() throws {
        let p = try prompt()
        XCTAssertThrowsError(try LogitLens(prism: p.prism).run(p.source, position: 0, targets: [.token(1 << 30)], mode: .own, top: 0)) {
            XCTAssertTrue(String(describing: $0).hasPrefix("target id \(1 << 30) is outside the vocabulary"), "\($0)")
        }
        XCTAssertThrowsError(try LogitLens(prism: p.prism).run(p.source, position: p.source.tokenIds.count, targets: p.targets, mode: .own, top: 0))
    }
}

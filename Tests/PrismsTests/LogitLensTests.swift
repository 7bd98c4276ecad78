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
        let byName = Dictionary(uniqueKeysWithValues: points.map { ($0.name, $0.targets) })
        for (k, t) in d.targets.enumerated() {
            func lens(_ name: String) throws -> Double { try XCTUnwrap(byName[name])[k] }
            XCTAssertTrue(close(try lens("blocks.0.resid_pre"), t.embed), "embed")
            for l in 0..<L {
                let attn = try lens("blocks.\(l).resid_mid") - lens("blocks.\(l).resid_pre")
                let mlp = try lens("blocks.\(l).resid_post") - lens("blocks.\(l).resid_mid")
                XCTAssertTrue(close(attn, t.attn[l]), "a\(l) target \(k): \(attn) vs \(t.attn[l])")
                XCTAssertTrue(close(mlp, t.mlp[l]), "m\(l) target \(k): \(mlp) vs \(t.mlp[l])")
            }
            for l in 1..<L {
                XCTAssertTrue(close(try lens("blocks.\(l).resid_pre"), try lens("blocks.\(l - 1).resid_post")), "a layer's output is the next one's input")
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

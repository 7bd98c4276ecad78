import Foundation
import PrismModel
import Prisms
import XCTest

/// `Faithfulness.compare` at the library level: zero against itself, and each kind of term
/// measured on its own.
final class FaithfulnessTests: XCTestCase {
    let kinds = ["logit", "residual (embed, attn, mlp)", "heads", "head x source", "neurons"]

    func decomposition(_ model: LoadedModel) throws -> Decomposition {
        let (_, ref) = try PrismReferenceTests.load("tiny-f32")
        let c = ref.cases[1]
        let (source, _) = try model.model.record(Array(c.ids[...c.position]))
        return try Prism(model: model.model).decompose(source, position: c.position, targets: c.targets.map { Target.token($0) })
    }

    /// The model against itself, opened twice and run twice: no difference at all, every
    /// term counted once, the top terms the same.
    func testModelAgainstItselfIsZero() throws {
        let path = PrismReferenceTests.fixtures.appendingPathComponent("tiny-f32").path
        let ref = try decomposition(try LoadedModel.open(path))
        let test = try decomposition(try LoadedModel.open(path))
        let rows = Faithfulness.compare(test, against: ref)
        XCTAssertEqual(rows.map(\.kind), kinds)
        let t = ref.targets[0]
        let (K, L, H, P, ff) = (ref.targets.count, t.attn.count, t.heads[0].count, t.headSources[0][0].count, t.neurons[0].count)
        XCTAssertEqual(rows.map(\.terms), [K, K * (1 + 2 * L), K * L * H, K * L * H * P, K * L * ff])
        for row in rows {
            XCTAssertEqual(row.maxAbsDiff, 0, row.kind)
            XCTAssertEqual(row.rmsDiff, 0, row.kind)
            XCTAssertEqual(row.relMax, 0, row.kind)
            XCTAssertEqual(row.topOverlap, 1, row.kind)
            XCTAssertGreaterThan(row.scale, 0, row.kind)
        }
        let logits = ref.targets.map(\.logit)
        XCTAssertEqual(rows[0].scale, logits.map(abs).max())
    }

    /// One neuron term moved by delta: only the neuron row sees it, as max delta and RMS
    /// delta / sqrt(n), relative to the reference's largest |neuron term|.
    func testOneChangedTermIsMeasuredInItsKindOnly() throws {
        let ref = try decomposition(try LoadedModel.open(PrismReferenceTests.fixtures.appendingPathComponent("tiny-f32").path))
        var test = ref
        let delta = 0.25
        test.targets[1].neurons[0][5] += delta
        let rows = Faithfulness.compare(test, against: ref)
        for row in rows where row.kind != "neurons" { XCTAssertEqual(row.maxAbsDiff, 0, row.kind) }
        let neurons = try XCTUnwrap(rows.first { $0.kind == "neurons" })
        XCTAssertEqual(neurons.maxAbsDiff, delta, accuracy: 1e-12)
        XCTAssertEqual(neurons.rmsDiff, delta / Double(neurons.terms).squareRoot(), accuracy: 1e-12)
        let scale = ref.targets.flatMap { $0.neurons.flatMap { $0 } }.map(abs).max() ?? 0
        XCTAssertEqual(neurons.scale, scale)
        XCTAssertEqual(neurons.relMax, delta / scale, accuracy: 1e-12)
    }

    /// Top-term overlap: zeroing the reference's ten largest head terms leaves none of them
    /// among the other's ten largest.
    func testTopOverlapSeesReorderedTerms() throws {
        let ref = try decomposition(try LoadedModel.open(PrismReferenceTests.fixtures.appendingPathComponent("tiny-f32").path))
        let H = ref.targets[0].heads[0].count, L = ref.targets[0].heads.count
        let flat = ref.targets.flatMap { $0.heads.flatMap { $0 } }
        XCTAssertGreaterThanOrEqual(flat.count, 20)
        let top = flat.indices.sorted { abs(flat[$0]) > abs(flat[$1]) }.prefix(10)
        var test = ref
        for i in top { test.targets[i / (L * H)].heads[(i % (L * H)) / H][i % H] = 0 }
        let heads = try XCTUnwrap(Faithfulness.compare(test, against: ref).first { $0.kind == "heads" })
        XCTAssertEqual(heads.topOverlap, 0)
        XCTAssertEqual(heads.maxAbsDiff, abs(flat[top.first ?? 0]))
        XCTAssertEqual(heads.relMax, 1, accuracy: 1e-12, "the largest term itself went")
    }
}

import Foundation
import PrismFormats
import PrismModel
import XCTest

/// The fp32 forward pass against transformers' GemmaForCausalLM on the committed fixtures.
final class ForwardTests: XCTestCase {
    /// Tolerance of the foundation issue: max |diff| <= 1e-4 * max |logit| over every
    /// position and the whole vocabulary.
    static let relativeTolerance: Float = 1e-4

    /// - Parameter reference: the reference file's name when `name` is another form of its model.
    func check(_ name: String, reference: String? = nil, minSequences: Int = 3) throws -> Float {
        try Self.check(name, reference: reference, minSequences: minSequences)
    }

    static func check(_ name: String, reference: String? = nil, minSequences: Int = 3) throws -> Float {
        let loaded = try LoadedModel.open(Fixtures.path(name))
        let ref = try Fixtures.reference(reference ?? name)
        XCTAssertGreaterThanOrEqual(ref.sequences.count, minSequences)
        var worst: Float = 0
        for seq in ref.sequences {
            let m = loaded.model
            let cache = m.makeCache(sequences: 1, capacity: seq.ids.count)
            let got = try m.forward([seq.ids], cache: cache, logitsAt: [Array(seq.ids.indices)])[0]
            XCTAssertEqual(got.count, seq.logits.count)
            let maxLogit = seq.logits.joined().map(abs).max() ?? 0
            var maxDiff: Float = 0
            for (g, r) in zip(got, seq.logits) {
                XCTAssertEqual(g.count, r.count)
                for (a, b) in zip(g, r) { maxDiff = max(maxDiff, abs(a - b)) }
            }
            XCTAssertLessThanOrEqual(maxDiff, Self.relativeTolerance * maxLogit, "\(name) ids \(seq.ids)")
            worst = max(worst, maxDiff / maxLogit)
        }
        print("\(name): max |diff| / max |logit| = \(worst)")
        return worst
    }

    func testF32SingleFileMatchesTransformers() throws { _ = try check("tiny-f32") }

    func testBF16ShardedMatchesTransformers() throws { _ = try check("tiny-bf16") }

    /// Running two sequences layer-major in one batch gives each the logits it gets alone.
    func testBatchEqualsSingle() throws {
        let loaded = try LoadedModel.open(Fixtures.path("tiny-f32"))
        let ref = try Fixtures.reference("tiny-f32")
        let seqs = ref.sequences.map(\.ids)
        let m = loaded.model
        let cache = m.makeCache(sequences: seqs.count, capacity: seqs.map(\.count).max() ?? 1)
        let batch = try m.forward(seqs, cache: cache, logitsAt: seqs.map { [$0.count - 1] })
        for (s, ids) in seqs.enumerated() {
            let single = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]])
            let diff = zip(batch[s][0], single[0][0]).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-5)
        }
    }

    /// Token by token through the KV cache equals the whole prompt at once.
    func testIncrementalDecodingMatchesPrefill() throws {
        let loaded = try LoadedModel.open(Fixtures.path("tiny-bf16"))
        let ids = try XCTUnwrap(Fixtures.reference("tiny-bf16").sequences.max { $0.ids.count < $1.ids.count }).ids
        let m = loaded.model
        let full = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]])[0][0]
        let cache = m.makeCache(sequences: 1, capacity: ids.count)
        _ = try m.forward([Array(ids.dropLast(3))], cache: cache, logitsAt: [[]])
        var last: [Float] = []
        for id in ids.suffix(3) { last = try m.forward([[id]], cache: cache, logitsAt: [[0]])[0][0] }
        let diff = zip(full, last).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }

    /// The recorded activations are consistent with each other: the residual stream is the
    /// sum of its writes, and the logits are the final readout of resid_post.
    func testRecordedActivationsCompose() throws {
        let loaded = try LoadedModel.open(Fixtures.path("tiny-f32"))
        let ids = try Fixtures.reference("tiny-f32").sequences[2].ids
        let m = loaded.model
        let rec = MemoryRecorder()
        _ = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[]], recorder: rec)
        let L = m.config.numHiddenLayers
        var x = try XCTUnwrap(rec.tensor(ActivationName.embed)).values
        for l in 0..<L {
            let a = try XCTUnwrap(rec.tensor(ActivationName.attnOut(l))).values
            let o = try XCTUnwrap(rec.tensor(ActivationName.mlpOut(l))).values
            x = zip(x, zip(a, o)).map { $0 + $1.0 + $1.1 }
        }
        let post = try XCTUnwrap(rec.tensor(ActivationName.residPost(L - 1))).values
        let err = zip(x, post).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(err, 1e-4 * (post.map(abs).max() ?? 1))
        let pattern = try XCTUnwrap(rec.tensor(ActivationName.pattern(0)))
        XCTAssertEqual(pattern.shape, [m.heads, ids.count, ids.count])
        for h in 0..<m.heads {
            for i in 0..<ids.count {
                let row = pattern.values[(h * ids.count + i) * ids.count..<((h * ids.count + i + 1) * ids.count)]
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
                XCTAssertTrue(row.dropFirst(i + 1).allSatisfy { $0 == 0 }, "causal")
            }
        }
    }
}

/// The table of activation points: names round-trip, and the forward pass records every point
/// with the shape the table gives.
final class ActivationPointTests: XCTestCase {
    func testNamesRoundTripAndShapesMatchTheForwardPass() throws {
        let loaded = try LoadedModel.open(Fixtures.path("tiny-f32"))
        let m = loaded.model, c = m.config
        let points = [ActivationPoint.embed, .lnFinalScale] + (0..<c.numHiddenLayers).flatMap(ActivationPoint.block)
        XCTAssertEqual(Set(points.map(\.name)).count, points.count, "names are distinct")
        for p in points { XCTAssertEqual(ActivationPoint(name: p.name), p, p.name) }
        for bad in ["blocks.01.attn.q", "blocks.-1.attn.q", "blocks.0.attn", "blocks.0.attn.q.x", "embed.x", ""] {
            XCTAssertNil(ActivationPoint(name: bad), bad)
        }
        let ids = [2, 10, 20, 30]
        let recorder = MemoryRecorder()
        _ = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[3]], recorder: recorder)
        // Gemma 1 has no post-norms and no q/k norms: the table gives those points no shape.
        let present = points.filter { $0.shape(c, tokens: ids.count) != nil }
        XCTAssertEqual(points.count - present.count, 4 * c.numHiddenLayers)
        for p in present {
            let t = try XCTUnwrap(recorder.tensor(p.name), p.name)
            XCTAssertEqual(t.shape, p.shape(c, tokens: ids.count), p.name)
        }
        XCTAssertEqual(Set(recorder.tensors[0]?.keys.map { $0 } ?? []), Set(present.map(\.name)), "the pass offers exactly the table's points")
        XCTAssertNil(ActivationPoint.residPre(c.numHiddenLayers).shape(c, tokens: 4))
    }
}

import Foundation
import PrismFormats
import PrismModel
import XCTest

/// Gemma 2 and Gemma 3 (text) against transformers' Gemma2ForCausalLM / Gemma3ForCausalLM on the
/// fixtures of tools/make_gemma23_fixtures.py: sliding windows shorter than the prompts, soft-caps
/// that bite (Gemma 2), q/k norms and two RoPE bases with linear scaling (Gemma 3), and every
/// norm weight non-zero. Tolerance as for Gemma 1: max |diff| <= 1e-4 x max |logit| over every
/// position and the whole vocabulary.
final class Gemma23ForwardTests: XCTestCase {
    func testGemma2MatchesTransformers() throws {
        let worst = try ForwardTests.check("tiny-gemma2", minSequences: 2)
        XCTAssertLessThanOrEqual(worst, 1e-4)
    }

    func testGemma3MatchesTransformers() throws {
        let worst = try ForwardTests.check("tiny-gemma3", minSequences: 2)
        XCTAssertLessThanOrEqual(worst, 1e-4)
    }

    /// The configs users hold (google/gemma-2-2b's 2024 file without layer_types; gemma-3-1b's
    /// and gemma-3-270m's with rope_local_base_freq, sliding_window_pattern or layer_types) and
    /// the multimodal wrapper's text tower run the same model as transformers 5's own form.
    func testPublishedConfigFormsRunTheSameModel() throws {
        for (dir, ref) in [
            ("tiny-gemma2-2024config", "tiny-gemma2"), ("tiny-gemma3-2025config", "tiny-gemma3"),
            ("tiny-gemma3-2025config-layertypes", "tiny-gemma3"), ("tiny-gemma3-mm", "tiny-gemma3"),
        ] {
            let canonical = try LoadedModel.open(Fixtures.path(ref)).model.config
            var config = try LoadedModel.open(Fixtures.path(dir)).model.config
            config.architectures = canonical.architectures
            XCTAssertEqual(config, canonical, dir)
            _ = try ForwardTests.check(dir, reference: ref, minSequences: 2)
        }
    }

    /// Greedy decoding through the KV cache, past the sliding window: the same tokens as
    /// transformers' `generate`, and at every step the logits of a full forward pass over the
    /// whole sequence so far.
    func testCachedDecodingEqualsFullPassesPastTheWindow() throws {
        for name in ["tiny-gemma2", "tiny-gemma3"] {
            let m = try LoadedModel.open(Fixtures.path(name)).model
            let gen = try XCTUnwrap(Fixtures.reference(name).generate)
            let window = try XCTUnwrap(m.config.slidingWindow)
            XCTAssertGreaterThan(gen.prompt_ids.count + gen.new_ids.count, 2 * window, "the run must pass the window")
            let total = gen.prompt_ids.count + gen.new_ids.count
            let cache = m.makeCache(sequences: 1, capacity: total)
            var ids = gen.prompt_ids
            var logits = try m.forward([ids], cache: cache, logitsAt: [[ids.count - 1]])[0][0]
            for step in gen.new_ids.indices {
                let full = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]])[0][0]
                let scale = max(1, full.map(abs).max() ?? 1)
                let diff = zip(full, logits).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(diff, 1e-5 * scale, "\(name) step \(step): cached vs full pass")
                let next = logits.indices.max { logits[$0] < logits[$1] } ?? 0
                XCTAssertEqual(next, gen.new_ids[step], "\(name) step \(step) (transformers' margin \(gen.top2_margin[step]))")
                XCTAssertEqual(logits[next], gen.chosen_logits[step], accuracy: 1e-4 * scale, "\(name) step \(step)")
                ids.append(gen.new_ids[step])
                logits = try m.forward([[gen.new_ids[step]]], cache: cache, logitsAt: [[0]])[0][0]
            }
        }
    }

    /// The new activation points are recorded with the table's shapes, and the residual stream
    /// is still the sum of the blocks' writes (now through the post-norms).
    func testRecordedPointsOfGemma23() throws {
        for name in ["tiny-gemma2", "tiny-gemma3"] {
            let m = try LoadedModel.open(Fixtures.path(name)).model
            let ids = try Fixtures.reference(name).sequences[0].ids
            let rec = MemoryRecorder()
            _ = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[]], recorder: rec)
            let points = [ActivationPoint.embed, .lnFinalScale] + (0..<m.config.numHiddenLayers).flatMap(ActivationPoint.block)
            for p in points {
                let shape = p.shape(m.config, tokens: ids.count)
                XCTAssertEqual(rec.tensor(p.name)?.shape, shape, "\(name) \(p.name)")
            }
            XCTAssertNotNil(rec.tensor(ActivationName.ln1PostScale(0)))
            XCTAssertEqual(rec.tensor(ActivationName.qNormScale(0)) != nil, m.config.hasQKNorm)
            var x = try XCTUnwrap(rec.tensor(ActivationName.embed)).values
            for l in 0..<m.config.numHiddenLayers {
                let a = try XCTUnwrap(rec.tensor(ActivationName.attnOut(l))).values
                let o = try XCTUnwrap(rec.tensor(ActivationName.mlpOut(l))).values
                x = zip(x, zip(a, o)).map { $0 + $1.0 + $1.1 }
            }
            let post = try XCTUnwrap(rec.tensor(ActivationName.residPost(m.config.numHiddenLayers - 1))).values
            XCTAssertLessThanOrEqual(zip(x, post).map { abs($0 - $1) }.max() ?? 0, 1e-4 * (post.map(abs).max() ?? 1))
            // A sliding layer's pattern is zero outside its window.
            let w = try XCTUnwrap(m.config.slidingWindow)
            let l = try XCTUnwrap(m.config.layerTypes.firstIndex(of: .slidingAttention))
            let pattern = try XCTUnwrap(rec.tensor(ActivationName.pattern(l)))
            let t = ids.count
            for h in 0..<m.heads {
                for i in 0..<t {
                    let row = pattern.values[((h * t + i) * t)..<((h * t + i + 1) * t)]
                    XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
                    for (j, v) in row.enumerated() where j > i || j <= i - w { XCTAssertEqual(v, 0, "\(name) layer \(l) head \(h) row \(i) key \(j)") }
                }
            }
        }
    }
}

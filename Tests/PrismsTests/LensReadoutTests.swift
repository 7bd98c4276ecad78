import Foundation
import PrismKernels
import PrismModel
import Prisms
import XCTest

/// The lens reads its points out over the vocabulary a tile at a time (so that under a memory
/// budget it never holds `[points, vocab]` logits nor the whole unembedding): the top tokens must
/// be those of the whole row.
final class LensReadoutTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    func testTiledTopTokensEqualTheWholeRow() throws {
        for name in ["tiny-f32", "tiny-bf16"] {
            let model = try LoadedModel.open(Self.fixtures.appendingPathComponent(name).path).model
            let d = model.d, V = model.vocab, points = 7, k = 5
            var generator = SystemRandomNumberGenerator()
            var normed = (0..<(points * d)).map { _ in Float.random(in: -1...1, using: &generator) }
            // Two points equal: their ties and order must not depend on the tiling either.
            for e in 0..<d { normed[d + e] = normed[e] }
            var logits = [Float](repeating: 0, count: points * V)
            normed.withUnsafeBufferPointer { n in
                logits.withUnsafeMutableBufferPointer { matmulTransposed(n.baseAddress!, count: points, model.weights.embedding, $0.baseAddress!) }
            }
            let lens = LogitLens(prism: Prism(model: model))
            // Tiles that do and do not divide the vocabulary, one row, and the whole vocabulary;
            // streamed (each tile's pages released once read) and not.
            for (tile, stream) in [(100, false), (V / 3 + 1, true), (1, false), (V, true), (8192, false)] {
                let top = lens.readoutTop(normed, points: points, k: k, tileRows: tile, streamWeights: stream)
                XCTAssertEqual(top.count, points)
                for i in 0..<points {
                    let want = TopK.largest(logits[(i * V)..<((i + 1) * V)], k: k)
                    XCTAssertEqual(top[i].map(\.id), want.map(\.id), "\(name), tile \(tile), point \(i)")
                    for (a, b) in zip(top[i], want) { XCTAssertEqual(a.logit, b.logit, accuracy: 1e-4 * max(1, abs(b.logit))) }
                }
            }
        }
    }
}

import Foundation
import PrismModel
import Prisms
import XCTest

/// Chained prisms at the library level, on the f32 fixture: properties that hold for every
/// head, source and neuron, not only the reference's chosen ones.
final class PathsTests: XCTestCase {
    static let tolerance = 1e-5

    /// Each reference prompt, recorded up to its position, with its decomposition.
    func cases() throws -> [(prism: Prism, source: ActivationSource, position: Int, targets: [Target], d: Decomposition)] {
        let (loaded, ref) = try PrismReferenceTests.load("tiny-f32")
        let prism = Prism(model: loaded.model)
        return try ref.cases.map { c in
            let (source, _) = try loaded.model.record(Array(c.ids[...c.position]))
            let targets = c.targets.map { Target.token($0) }
            return (prism, source, c.position, targets, try prism.decompose(source, position: c.position, targets: targets))
        }
    }

    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= Self.tolerance * max(1, abs(a), abs(b)) }

    /// A head's paths over every source position add up to the head's term, and each path's
    /// pieces (embed, then each earlier block's write) add up to its head-source term.
    func testHeadPathsSumToTheHeadTerm() throws {
        for c in try cases() {
            let first = c.d.targets[0]
            let (L, H) = (first.heads.count, first.heads[0].count)
            for l in 0..<L {
                for h in 0..<H {
                    var sums = [Double](repeating: 0, count: c.targets.count)
                    for j in 0...c.position {
                        let paths = try c.prism.headPath(c.source, position: c.position, layer: l, head: h, source: j, targets: c.targets)
                        for (k, path) in paths.enumerated() {
                            let tag = "p \(c.position) layer \(l) head \(h) source \(j) target \(k)"
                            XCTAssertEqual(path.pieceNames.count, 1 + 2 * l, tag)
                            XCTAssertEqual(path.pieces.count, path.pieceNames.count, tag)
                            XCTAssertTrue(close(path.pieces.reduce(0, +), path.total), "\(tag): pieces \(path.pieces.reduce(0, +)) vs \(path.total)")
                            XCTAssertTrue(
                                close(path.total, c.d.targets[k].headSources[l][h][j]), "\(tag): \(path.total) vs \(c.d.targets[k].headSources[l][h][j])")
                            sums[k] += path.total
                        }
                    }
                    for k in c.targets.indices {
                        XCTAssertTrue(
                            close(sums[k], c.d.targets[k].heads[l][h]),
                            "p \(c.position) head \(l).\(h) target \(k): \(sums[k]) vs \(c.d.targets[k].heads[l][h])")
                    }
                }
            }
        }
    }

    /// Every neuron's path total is its term, its pieces add up to it, and the neurons of a
    /// layer add up to the layer's MLP term.
    func testNeuronPathsSumToTheMLPTerm() throws {
        let c = try cases()[0]
        let first = c.d.targets[0]
        for l in 0..<first.mlp.count {
            var sums = [Double](repeating: 0, count: c.targets.count)
            for n in 0..<first.neurons[l].count {
                let paths = try c.prism.neuronPath(c.source, position: c.position, layer: l, neuron: n, targets: c.targets)
                for (k, path) in paths.enumerated() {
                    XCTAssertEqual(path.pieceNames.last, "blocks.\(l).attn", "the neuron reads the stream after its layer's attention")
                    XCTAssertTrue(close(path.pieces.reduce(0, +), path.total), "layer \(l) neuron \(n)")
                    XCTAssertTrue(close(path.total, c.d.targets[k].neurons[l][n]), "layer \(l) neuron \(n): \(path.total) vs \(c.d.targets[k].neurons[l][n])")
                    sums[k] += path.total
                }
            }
            for k in c.targets.indices {
                XCTAssertTrue(close(sums[k], c.d.targets[k].mlp[l]), "layer \(l) target \(k): \(sums[k]) vs \(c.d.targets[k].mlp[l])")
            }
        }
    }

    /// At layer 0 a head reads the scaled embedding itself, so its frozen map applied to the
    /// source token's embedding is the head-source term.
    func testLayerZeroMapOfTheOwnEmbeddingIsTheTerm() throws {
        let c = try cases()[0]
        let ids = c.source.tokenIds
        for h in 0..<c.d.targets[0].heads[0].count {
            for j in 0...c.position {
                let maps = try c.prism.headMaps(c.source, position: c.position, layer: 0, head: h, source: j, targets: c.targets)
                let values = try c.prism.applyToEmbeddings(maps, tokens: [ids[j]])
                for k in c.targets.indices {
                    XCTAssertTrue(
                        close(values[k][0], c.d.targets[k].headSources[0][h][j]),
                        "head \(h) source \(j): \(values[k][0]) vs \(c.d.targets[k].headSources[0][h][j])")
                }
            }
        }
    }

    /// A difference target's path is the difference of the two paths, piece by piece.
    func testDifferencePathIsLinear() throws {
        let c = try cases()[1]
        let (a, b) = (c.targets[0], c.targets[1])
        let diff = Target.difference(a.ids[0], b.ids[0])
        let paths = try c.prism.headPath(c.source, position: c.position, layer: 1, head: 2, source: 3, targets: [a, b, diff])
        XCTAssertEqual(paths[2].pieces.count, paths[0].pieces.count)
        for (i, piece) in paths[2].pieces.enumerated() {
            XCTAssertTrue(close(piece, paths[0].pieces[i] - paths[1].pieces[i]), "piece \(paths[2].pieceNames[i])")
        }
    }

    func testOutOfRangeIsOneLine() throws {
        let c = try cases()[0]
        let (L, H, ff) = (c.d.targets[0].heads.count, c.d.targets[0].heads[0].count, c.d.targets[0].neurons[0].count)
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return String(describing: error) }
            return "no error"
        }
        let t = [c.targets[0]]
        XCTAssertEqual(
            message { _ = try c.prism.headPath(c.source, position: c.position, layer: L, head: 0, source: 0, targets: t) },
            "layer \(L) is out of range (0..<\(L))")
        XCTAssertEqual(
            message { _ = try c.prism.headPath(c.source, position: c.position, layer: 0, head: H, source: 0, targets: t) },
            "head \(H) is out of range (0..<\(H))")
        XCTAssertEqual(
            message { _ = try c.prism.headPath(c.source, position: 2, layer: 0, head: 0, source: 3, targets: t) },
            "source 3 is out of range: position 2 attends to 0...2")
        XCTAssertEqual(
            message { _ = try c.prism.neuronPath(c.source, position: c.position, layer: 0, neuron: ff, targets: t) },
            "neuron \(ff) is out of range (0..<\(ff))")
        let maps = try c.prism.headMaps(c.source, position: c.position, layer: 0, head: 0, source: 0, targets: t)
        XCTAssertEqual(message { _ = try c.prism.applyToEmbeddings(maps, tokens: [-1]) }.prefix(28), "token id -1 is outside the v")
    }
}

import Foundation
import PrismModel
import Prisms
import XCTest

/// The prisms against an independent reference: tools/make_prism_reference.py computes the
/// same decompositions in float64 numpy from transformers' weights and hooked activations.
final class PrismReferenceTests: XCTestCase {
    /// Every term agrees with the reference to 1e-5 relative to the largest |value| of its
    /// kind (or 1e-5 absolute for kinds whose values are all tiny).
    static let tolerance = 1e-5

    struct Reference: Decodable {
        struct Case: Decodable {
            let ids: [Int]
            let position: Int
            let targets: [Int]
            let per_target: [PerTarget]
        }
        struct PerTarget: Decodable {
            let id: Int
            let logit: Double
            let readout_logit: Double
            let embed: Double
            let attn: [Double]
            let mlp: [Double]
            let heads: [[Double]]
            let head_sources: [[[Double]]]
            let neurons: [[Double]]
            let lens: [String: [String: Double]]
            let head_path: HeadPath
            let embedding_map: EmbeddingMap
            let neuron_path: NeuronPath
            /// Gemma 2: the soft-cap's factor and the capped terms (g times each pre-cap term).
            let softcap: SoftcapRef?
        }
        struct SoftcapRef: Decodable {
            let cap: Double
            let z: Double
            let capped: Double
            let g: Double
            let embed: Double
            let attn: [Double]
            let mlp: [Double]
            let heads: [[Double]]
        }
        struct HeadPath: Decodable { let layer: Int; let head: Int; let source: Int; let pieces: [Double]; let total: Double }
        struct EmbeddingMap: Decodable { let layer: Int; let head: Int; let source: Int; let tokens: [Int]; let values: [Double] }
        struct NeuronPath: Decodable { let layer: Int; let neuron: Int; let pieces: [Double]; let total: Double }
        let cases: [Case]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    func load(_ name: String) throws -> (LoadedModel, Reference) { try Self.load(name) }

    static func load(_ name: String) throws -> (LoadedModel, Reference) {
        let model = try LoadedModel.open(Self.fixtures.appendingPathComponent(name).path)
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("reference/prisms-\(name).json"))
        return (model, try JSONDecoder().decode(Reference.self, from: data))
    }

    func assertClose(_ got: [Double], _ want: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        Self.assertClose(got, want, what, file: file, line: line)
    }

    static func assertClose(_ got: [Double], _ want: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let scale = max(1, want.map(abs).max() ?? 0)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, Self.tolerance * scale, "\(what): max |diff| \(worst), scale \(scale)", file: file, line: line)
    }

    func check(_ name: String) throws {
        let (loaded, ref) = try load(name)
        // The reference's terms are of the pre-cap logit z (the same as the logit without a cap).
        let prism = Prism(model: loaded.model, logitKind: .preSoftcap)
        let cappedPrism = Prism(model: loaded.model, logitKind: .capped)
        let softcapped = loaded.model.config.finalLogitSoftcapping != nil
        XCTAssertEqual(ref.cases.count, 3)
        for c in ref.cases {
            let (source, _) = try loaded.model.record(Array(c.ids[...c.position]))
            let targets = c.targets.map { Target.token($0) }
            let d = try prism.decompose(source, position: c.position, targets: targets)
            for (got, want) in zip(d.targets, c.per_target) {
                let tag = "\(name) ids \(c.ids.count) p \(c.position) target \(want.id)"
                assertClose([got.logit], [want.readout_logit], "\(tag) readout logit")
                if !softcapped { assertClose([got.logit], [want.logit], "\(tag) transformers logit") }
                assertClose([got.embed], [want.embed], "\(tag) embed")
                assertClose(got.attn, want.attn, "\(tag) attn")
                assertClose(got.mlp, want.mlp, "\(tag) mlp")
                assertClose(got.heads.flatMap { $0 }, want.heads.flatMap { $0 }, "\(tag) heads")
                assertClose(got.headSources.flatMap { $0.flatMap { $0 } }, want.head_sources.flatMap { $0.flatMap { $0 } }, "\(tag) head_sources")
                assertClose(got.neurons.flatMap { $0 }, want.neurons.flatMap { $0 }, "\(tag) neurons")
                // Completeness, in fp32: <= 1e-4 relative.
                XCTAssertLessThanOrEqual(abs(got.error), 1e-4 * max(1, abs(got.logit)), "\(tag) sum vs logit")
                XCTAssertLessThanOrEqual(got.finerClosure, 1e-4 * max(1, abs(got.logit)), "\(tag) finer closure")

                let hp = want.head_path
                let path = try prism.headPath(source, position: c.position, layer: hp.layer, head: hp.head, source: hp.source, targets: [.token(want.id)])[0]
                assertClose(path.pieces, hp.pieces, "\(tag) head path pieces")
                assertClose([path.total], [hp.total], "\(tag) head path total")
                XCTAssertEqual(path.total, got.headSources[hp.layer][hp.head][hp.source], accuracy: 1e-5 * max(1, abs(path.total)))
                XCTAssertLessThanOrEqual(abs(path.error), 1e-5 * max(1, abs(path.total)))

                let em = want.embedding_map
                let maps = try prism.headMaps(source, position: c.position, layer: em.layer, head: em.head, source: em.source, targets: [.token(want.id)])
                assertClose(try prism.applyToEmbeddings(maps, tokens: em.tokens)[0], em.values, "\(tag) embedding map")

                let np = want.neuron_path
                let npath = try prism.neuronPath(source, position: c.position, layer: np.layer, neuron: np.neuron, targets: [.token(want.id)])[0]
                assertClose(npath.pieces, np.pieces, "\(tag) neuron path pieces")
                assertClose([npath.total], [np.total], "\(tag) neuron path total")
                XCTAssertEqual(npath.total, got.neurons[np.layer][np.neuron], accuracy: 1e-5 * max(1, abs(npath.total)))

                for mode in LogitLens.NormMode.allCases {
                    let points = try LogitLens(prism: prism).run(source, position: c.position, targets: [.token(want.id)], mode: mode, top: 3)
                    let expected = try XCTUnwrap(want.lens[mode.rawValue])
                    assertClose(points.map { $0.targets[0] }, points.map { expected[$0.name] ?? .nan }, "\(tag) lens \(mode)")
                    if softcapped {
                        let capped = try LogitLens(prism: prism).run(
                            source, position: c.position, targets: [.token(want.id)], mode: mode, top: 3, softcap: true)
                        let expectedCapped = try XCTUnwrap(want.lens[mode.rawValue + "_capped"])
                        assertClose(capped.map { $0.targets[0] }, capped.map { expectedCapped[$0.name] ?? .nan }, "\(tag) capped lens \(mode)")
                    }
                }
                if let sc = want.softcap {
                    // The capped logit, decomposed: each term is g times its pre-cap term, and they add
                    // up to the model's (capped) output.
                    let capped = try cappedPrism.decompose(source, position: c.position, targets: [.token(want.id)]).targets[0]
                    let info = try XCTUnwrap(capped.softcap)
                    assertClose([info.preCapLogit, info.cappedLogit, info.factors[0]], [sc.z, sc.capped, sc.g], "\(tag) soft-cap")
                    assertClose([capped.logit], [want.logit], "\(tag) capped logit vs transformers")
                    assertClose([capped.embed], [sc.embed], "\(tag) capped embed")
                    assertClose(capped.attn, sc.attn, "\(tag) capped attn")
                    assertClose(capped.mlp, sc.mlp, "\(tag) capped mlp")
                    assertClose(capped.heads.flatMap { $0 }, sc.heads.flatMap { $0 }, "\(tag) capped heads")
                    XCTAssertLessThanOrEqual(abs(capped.error), 1e-4 * max(1, abs(capped.logit)), "\(tag) capped sum vs logit")
                    XCTAssertLessThanOrEqual(capped.finerClosure, 1e-4 * max(1, abs(capped.logit)), "\(tag) capped finer closure")
                    XCTAssertEqual(got.softcap?.shown, .preSoftcap)
                }
            }
        }
    }

    func testTinyF32AgainstNumpyReference() throws { try check("tiny-f32") }

    func testTinyBF16AgainstNumpyReference() throws { try check("tiny-bf16") }

    /// Gemma 2: post-norms folded into the pull-backs, attention and final soft-caps, sliding windows.
    func testTinyGemma2AgainstNumpyReference() throws { try check("tiny-gemma2") }

    /// Gemma 3: q/k norms, two RoPE bases, post-norms, sliding windows.
    func testTinyGemma3AgainstNumpyReference() throws { try check("tiny-gemma3") }

    /// A logit difference decomposes as the difference of the two decompositions.
    func testDifferenceTargetIsLinear() throws {
        let (loaded, ref) = try load("tiny-f32")
        let c = ref.cases[1]
        let (source, _) = try loaded.model.record(c.ids)
        let prism = Prism(model: loaded.model)
        let d = try prism.decompose(
            source, position: c.position, targets: [.token(c.targets[0]), .token(c.targets[1]), .difference(c.targets[0], c.targets[1])])
        let (a, b, diff) = (d.targets[0], d.targets[1], d.targets[2])
        XCTAssertEqual(diff.logit, a.logit - b.logit, accuracy: 1e-5)
        for l in 0..<a.neurons.count {
            assertClose(diff.neurons[l], zip(a.neurons[l], b.neurons[l]).map { $0 - $1 }, "neurons \(l)")
            assertClose(diff.heads[l], zip(a.heads[l], b.heads[l]).map { $0 - $1 }, "heads \(l)")
        }
    }

    /// Decomposing several prompts layer-major (one pull-back per layer for all their targets)
    /// gives each the decomposition it gets alone.
    func testManyPromptsAtOnceEqualOneByOne() throws {
        let (loaded, ref) = try load("tiny-bf16")
        let prism = Prism(model: loaded.model)
        let items = try ref.cases.map { c -> (source: ActivationSource, position: Int, targets: [Target]) in
            (try loaded.model.record(Array(c.ids[...c.position])).source, c.position, c.targets.map { Target.token($0) })
        }
        let together = try prism.decomposeMany(items)
        for (item, t) in zip(items, together) {
            let alone = try prism.decompose(item.source, position: item.position, targets: item.targets)
            XCTAssertEqual(t.position, alone.position)
            for (a, b) in zip(t.targets, alone.targets) {
                assertClose(a.neurons.flatMap { $0 }, b.neurons.flatMap { $0 }, "neurons")
                assertClose(a.headSources.flatMap { $0.flatMap { $0 } }, b.headSources.flatMap { $0.flatMap { $0 } }, "head sources")
                assertClose(a.attn + a.mlp + [a.embed, a.logit], b.attn + b.mlp + [b.embed, b.logit], "residual")
            }
        }
    }

    func testBadPositionsAndTargets() throws {
        let (loaded, _) = try load("tiny-f32")
        let (source, _) = try loaded.model.record([2, 10, 11])
        let prism = Prism(model: loaded.model)
        XCTAssertThrowsError(try prism.decompose(source, position: 3, targets: [.token(1)]))
        XCTAssertThrowsError(try prism.decompose(source, position: -4, targets: [.token(1)]))
        XCTAssertThrowsError(try prism.decompose(source, position: -1, targets: [.token(loaded.model.vocab)]))
        XCTAssertThrowsError(try prism.decompose(source, position: -1, targets: []))
        XCTAssertThrowsError(try prism.headPath(source, position: 1, layer: 0, head: 0, source: 2, targets: [.token(1)]), "source after position")
        XCTAssertThrowsError(try prism.neuronPath(source, position: 1, layer: 5, neuron: 0, targets: [.token(1)]))
    }
}

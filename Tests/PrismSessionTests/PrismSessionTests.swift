import Foundation
import PrismKernels
import PrismModel
import PrismSession
import PrismSupport
import PrismTokenizer
import Prisms
import XCTest

/// The session: tokenizer parsed once, targets resolved in one place, runs planned per call,
/// and the model shared safely by concurrent runs with different options.
final class PrismSessionTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path

    /// A decompose's whole pipeline (tokens, targets of every kind, labels, pieces) parses the
    /// model's tokenizer.json once, and not at all when nothing needs it.
    func testTokenizerIsParsedOncePerSession() throws {
        let session = try PrismSession(path: Self.shipped)
        let before = GemmaTokenizer.filesParsed
        let ids = try session.tokens(text: nil, ids: [2, 651, 37])
        XCTAssertEqual(GemmaTokenizer.filesParsed, before, "ids given: no tokenizer needed")
        let text = try session.tokens(text: "The capital of France is", ids: nil)
        let targets = try session.targets(ids: [5], tokens: [" Paris"], diffs: [(" Paris", " London")], style: .quoted)
        let (source, _) = try session.record(text, lastPositionOnly: true)
        _ = try Prism.once(session.model).decompose(source, position: text.count - 1, targets: targets)
        _ = try session.pieces(text + ids)
        _ = try session.label(5, style: .piece)
        XCTAssertEqual(GemmaTokenizer.filesParsed, before + 1)
    }

    /// One wording for every way a target can be wrong.
    func testTargetErrors() throws {
        let session = try PrismSession(path: Self.shipped)
        XCTAssertThrowsError(try session.targets(ids: [999_999], tokens: [], diffs: [], style: .quoted)) {
            XCTAssertEqual(($0 as? PrismError)?.message, "target id 999999 is outside the vocabulary (0..<\(session.model.vocab))")
        }
        XCTAssertThrowsError(try session.singleToken("#999999"))
        XCTAssertThrowsError(try session.singleToken(" Parisian capital")) {
            XCTAssertTrue(($0 as? PrismError)?.message.contains("not one; give a single token or its id") == true)
        }
        let t = try session.targets(ids: [], tokens: [" Paris"], diffs: [], style: .piece)
        XCTAssertEqual(t.first?.label, "▁Paris")
        XCTAssertEqual(try session.targets(ids: [], tokens: [" Paris"], diffs: [], style: .quoted).first?.label, "\" Paris\"")
    }

    /// Two threads running the same model at once with different options (int8 and exact
    /// routes, streamed and resident weights) get what each gets alone.
    func testConcurrentRunsWithDifferentOptionsMatchSequentialRuns() throws {
        let model = try LoadedModel.open(Self.shipped).model
        let ids = [2, 651, 37, 576, 81, 603]
        let variants = [
            RunOptions(route: .int8), RunOptions(route: .exact, streamWeights: true), RunOptions(route: .int8, streamWeights: true, residentLayers: 1),
            RunOptions(route: .exact),
        ]
        func run(_ o: RunOptions) throws -> [Float] {
            try model.forward([ids], cache: model.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]], options: o)[0][0]
        }
        let alone = try variants.map(run)
        XCTAssertNotEqual(alone[0], alone[1], "the routes differ, so a mix-up would show")
        for _ in 0..<3 {
            var together = [[Float]](repeating: [], count: variants.count)
            let lock = NSLock()
            DispatchQueue.concurrentPerform(iterations: variants.count * 4) { i in
                let k = i % variants.count
                guard let r = try? run(variants[k]) else { return }
                lock.lock()
                if together[k].isEmpty { together[k] = r } else if together[k] != r { together[k] = [.nan] }
                lock.unlock()
            }
            for k in variants.indices { XCTAssertEqual(together[k], alone[k], "variant \(k)") }
        }
    }

    /// A run's options come from the plan: under a budget smaller than the model, weights stream.
    func testPlanGivesTheRunItsOptions() throws {
        let loaded = try LoadedModel.open(Self.shipped)
        XCTAssertFalse(try PrismSession(loaded: loaded).plan(tokens: 8).streamWeights)
        let small = PrismSession(loaded: loaded, budget: MemoryPlan.baseline + 3 << 20, route: .exact)
        let o = try small.plan(tokens: 8)
        XCTAssertTrue(o.streamWeights)
        XCTAssertEqual(o.route, .exact)
        _ = try loaded.model.forward([[2, 5]], cache: loaded.model.makeCache(sequences: 1, capacity: 2), logitsAt: [[1]], options: o)
        XCTAssertGreaterThan(small.meter.weightBytesRead, 0)
    }
}

import Foundation
import PrismExplorer
import PrismModel
import PrismSession
import Prisms
import XCTest

/// The explorer's data: its lens grid is `LogitLens` at every position (both modes from one
/// readout), its ranks are the full vocabulary's, and its page embeds the data so that no text
/// in it can end the script element.
final class ExplorerTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path

    func testLensGridIsTheLogitLensAtEveryPositionInBothModes() throws {
        let session = try PrismSession(path: Self.shipped)
        let ids = try session.tokens(text: "The capital of France is", ids: nil)
        let targets = try session.targets(ids: [], tokens: [" Paris"], diffs: [(" Paris", " London")], style: .quoted)
        let (source, _) = try session.record(ids, lastPositionOnly: false)
        let grid = try LensGrid.read(session.model, source: source, positions: ids.count, targets: targets, top: 3)
        XCTAssertEqual(grid.points.count, session.model.config.numHiddenLayers + 1)
        XCTAssertEqual(grid.cells.count, ids.count)
        let lens = LogitLens(prism: Prism(model: session.model))
        for q in [0, ids.count / 2, ids.count - 1] {
            for mode in LogitLens.NormMode.allCases {
                let points = try lens.run(source, position: q, targets: targets, mode: mode, top: 3)
                let byName = Dictionary(uniqueKeysWithValues: points.map { ($0.name, $0) })
                for (i, name) in grid.points.enumerated() {
                    let want = try XCTUnwrap(byName[name], name)
                    let cell = grid.cells[q][i]
                    XCTAssertEqual(cell.topIds, want.top.map(\.id), "\(name) at \(q), \(mode)")
                    let got = mode == .own ? cell.topOwn : cell.topFrozen
                    for (a, b) in zip(got, want.top.map(\.logit)) { XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b)), "\(name) at \(q)") }
                    let tv = mode == .own ? cell.targetOwn : cell.targetFrozen
                    for (a, b) in zip(tv, want.targets) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(name) at \(q)") }
                }
            }
        }
    }

    /// The rank of each target token in a cell counts the tokens with a larger logit, as a full
    /// readout of that cell gives it: at the final point of the last position, the model's own
    /// logits (`LogitRanks`).
    func testLensRanksAreTheVocabularyRanks() throws {
        let session = try PrismSession(path: Self.shipped)
        let ids = try session.tokens(text: "The capital of France is", ids: nil)
        let targets = try session.targets(ids: [], tokens: [" Paris", " the", "Paris"], diffs: [], style: .quoted)
        let (source, logits) = try session.record(ids, lastPositionOnly: false)
        let grid = try LensGrid.read(session.model, source: source, positions: ids.count, targets: targets, top: 1)
        let ranks = LogitRanks(logits)
        let last = try XCTUnwrap(grid.cells.last?.last)
        for (k, t) in targets.enumerated() {
            XCTAssertEqual(last.targetRanks[k], [try XCTUnwrap(ranks.rank(t.ids[0]))], t.label)
        }
        XCTAssertEqual(last.topIds.first, ranks.top1?.id)
        // A token's rank at a cell is one more than the tokens above it, so rank 1 is the top token.
        for row in grid.cells {
            for cell in row {
                for (k, t) in targets.enumerated() where cell.topIds.first == t.ids[0] { XCTAssertEqual(cell.targetRanks[k], [1]) }
            }
        }
    }

    func testPageEmbedsTheDataSafely() throws {
        let page = try ExplorerHTML.page(["tokens": ["</script><script>alert(1)</script>", "a&b"], "x": Double.nan], title: "t <b>")
        XCTAssertFalse(page.contains("</script><script>alert"), "a token must not end the data element")
        XCTAssertTrue(page.contains("<title>t &lt;b&gt;</title>"))
        let start = try XCTUnwrap(page.range(of: "<script type=\"application/json\" id=\"data\">"))
        let end = try XCTUnwrap(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
        let json = String(page[start.upperBound..<end.lowerBound])
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(obj["tokens"] as? [String], ["</script><script>alert(1)</script>", "a&b"])
        XCTAssertEqual(obj["x"] as? String, "NaN")
    }

    /// Patterns are written as bytes of the causal lower triangle, row by row.
    func testPatternEncodingKeepsTheLowerTriangle() throws {
        // 1 head, 3 tokens: row q holds keys 0...q.
        let p: [Float] = [1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5]
        let obj = ExplorerData.patternsObject([p], layers: 1, heads: 1, tokens: 3)
        let b64 = try XCTUnwrap((obj["data"] as? [[String]])?.first?.first)
        let bytes = [UInt8](try XCTUnwrap(Data(base64Encoded: b64)))
        XCTAssertEqual(bytes, [255, 128, 128, 51, 77, 128])
    }
}

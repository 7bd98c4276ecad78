import Foundation
import PrismModel
import PrismSession
import PrismSupport
import XCTest

/// A budget too small for a run is an error of kind `.overBudget` (what the batch runner and the
/// studies' chunking act on), with the planner's one-line message.
final class OverBudgetKindTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path

    func testATooSmallBudgetIsOverBudget() throws {
        let loaded = try LoadedModel.open(Self.shipped)
        let session = PrismSession(loaded: loaded, budget: 1 << 10, route: .exact)
        XCTAssertThrowsError(try session.plan(tokens: 8)) {
            let e = $0 as? PrismError
            XCTAssertEqual(e?.kind, .overBudget)
            XCTAssertTrue(e?.message.hasPrefix("--max-memory \(ByteSize.format(1 << 10)) is too small") == true, e?.message ?? "")
        }
        // A budget that fits plans without error.
        XCTAssertNoThrow(try PrismSession(loaded: loaded, budget: nil, route: .exact).plan(tokens: 8))
    }
}

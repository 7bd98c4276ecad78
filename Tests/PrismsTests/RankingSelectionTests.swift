import XCTest

@testable import Prisms

/// `Ranking.largest`, the per-layer selection of the top neurons: the same indices, in the same
/// order, as the stable sort by decreasing |value| it replaces, ties and NaN included.
final class RankingSelectionTests: XCTestCase {
    /// What the ranking did before: a stable sort of every non-NaN index.
    static func bySorting(_ values: [Double], top: Int) -> [Int] {
        Array(values.indices.filter { !values[$0].isNaN }.sorted { abs(values[$0]) > abs(values[$1]) }.prefix(max(top, 0)))
    }

    func testSelectionEqualsTheStableSortsPrefix() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<300 {
            let count = Int.random(in: 0...200, using: &rng)
            // Few distinct sizes, signs both ways, some NaN: ties are common.
            let values: [Double] = (0..<count).map { _ in
                if Int.random(in: 0..<20, using: &rng) == 0 { return .nan }
                let size = Double(Int.random(in: 0...(trial % 2 == 0 ? 5 : 1000), using: &rng)) / 4
                return Bool.random(using: &rng) ? size : -size
            }
            for top in [0, 1, 3, 10, 20, 250] {
                XCTAssertEqual(Ranking.largest(values, top: top), Self.bySorting(values, top: top), "trial \(trial), top \(top): \(values)")
            }
        }
    }

    func testEdgeCases() {
        XCTAssertEqual(Ranking.largest([], top: 5), [])
        XCTAssertEqual(Ranking.largest([.nan, .nan], top: 5), [])
        XCTAssertEqual(Ranking.largest([1, -1, 0.0, -0.0, 1], top: 2), [0, 1], "equal sizes: lower index first")
        XCTAssertEqual(Ranking.largest([1, -3, 2], top: -1), [])
        XCTAssertEqual(Ranking.largest([.infinity, 1, -.infinity], top: 2), [0, 2])
    }
}

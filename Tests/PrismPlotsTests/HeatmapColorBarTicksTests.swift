import Foundation
import XCTest

@testable import PrismPlots

/// A colour bar cannot stretch its interval to tick values: its ticks must still be several,
/// not a lone 0 (a lens heatmap of logits within +-15.4 once showed only "0").
final class HeatmapColorBarTicksTests: XCTestCase {
    func colorBarLabels(_ limit: Double) -> [String] {
        let svg = Chart.heatmap(title: "t", rows: ["a", "b"], columns: ["x", "y"], values: [[-limit, 1], [2, limit]]).text
        let bar = svg.components(separatedBy: "<g class=\"colorbar\">")[1].components(separatedBy: "</g>")[0]
        return bar.components(separatedBy: "<text").dropFirst().map { $0.components(separatedBy: ">")[1].components(separatedBy: "<")[0] }
    }

    func testColorBarHasSeveralTicks() {
        for limit in [15.4, 1.6, 0.33, 7.0, 260.0] {
            let labels = colorBarLabels(limit)
            XCTAssertGreaterThanOrEqual(labels.count, 3, "limit \(limit): \(labels)")
            XCTAssertTrue(labels.contains("0"), "limit \(limit): \(labels)")
        }
    }

    func testInsideKeepsTicksWithinTheInterval() {
        for (lo, hi) in [(-15.4, 15.4), (0.0, 1.0), (-0.33, 0.33), (2.0, 9.5)] {
            let t = Ticks.inside(lo, hi, target: 3)
            XCTAssertGreaterThanOrEqual(t.values.count, 3, "\(lo)...\(hi): \(t.values)")
            for v in t.values { XCTAssertTrue(v >= lo - 1e-9 && v <= hi + 1e-9, "\(v) outside \(lo)...\(hi)") }
        }
    }
}

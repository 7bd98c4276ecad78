import Foundation
import PrismModel
import XCTest

/// The memory planner: whole model when it fits, otherwise streamed with as many leading
/// layers kept resident as the budget holds, and a refusal naming the minimum below that.
final class MemoryPlanTests: XCTestCase {
    func testStreamingKeepsWhatTheBudgetHolds() throws {
        let m = try LoadedModel.open(Fixtures.path("tiny-bf16")).model
        let layers = m.weights.layers.map(\.byteCount)
        let unlimited = try MemoryPlan.make(model: m, budget: nil, tokens: 8, extraBytes: 0, logitRows: 1)
        XCTAssertFalse(unlimited.streamWeights)
        XCTAssertEqual(unlimited.residentWeightBytes, unlimited.weightBytes)

        // The floor: streamed, nothing kept beyond one layer.
        let floorPlan = try MemoryPlan.make(model: m, budget: unlimited.total - 1, tokens: 8, extraBytes: 0, logitRows: 1)
        XCTAssertTrue(floorPlan.streamWeights)
        let minimum = floorPlan.total - layers.prefix(floorPlan.residentLayers).reduce(0, +)
        let tight = try MemoryPlan.make(model: m, budget: minimum, tokens: 8, extraBytes: 0, logitRows: 1)
        XCTAssertTrue(tight.streamWeights)
        XCTAssertEqual(tight.residentLayers, 0)
        XCTAssertLessThanOrEqual(tight.total, minimum)
        XCTAssertThrowsError(try MemoryPlan.make(model: m, budget: minimum - 1, tokens: 8, extraBytes: 0, logitRows: 1))

        // Room for one more layer (with the planner's 40% margin): exactly one kept, still within the budget.
        XCTAssertGreaterThanOrEqual(layers.count, 3)
        let one = minimum + layers[0] * 100 / 60 + 16
        let plan = try MemoryPlan.make(model: m, budget: one, tokens: 8, extraBytes: 0, logitRows: 1)
        XCTAssertTrue(plan.streamWeights)
        XCTAssertEqual(plan.residentLayers, 1)
        XCTAssertLessThanOrEqual(plan.total, one)
    }

    /// Kept layers change only what is resident, never the numbers.
    func testResidentLayersDoNotChangeLogits() throws {
        let m = try LoadedModel.open(Fixtures.path("tiny-f32")).model
        let ids = [2, 10, 20, 30, 40]
        let plain = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: 5), logitsAt: [[4]])[0][0]
        let streamed = try m.forward(
            [ids], cache: m.makeCache(sequences: 1, capacity: 5), logitsAt: [[4]],
            options: RunOptions(streamWeights: true, residentLayers: 1))[0][0]
        XCTAssertEqual(plain, streamed)
    }
}

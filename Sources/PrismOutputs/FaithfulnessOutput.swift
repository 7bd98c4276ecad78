import Foundation
import Prisms

/// `prism decompose --compare-f32`'s outputs: per term kind, how far this model's terms move
/// from a reference model's (`Faithfulness.compare`).
public enum FaithfulnessOutput {
    /// The rows as the JSON's `compare_f32` array.
    public static func json(_ rows: [Faithfulness.Row]) -> [[String: Any]] {
        rows.map {
            [
                "kind": $0.kind, "terms": $0.terms, "max_abs_diff": $0.maxAbsDiff, "rms_diff": $0.rmsDiff,
                "reference_max_abs": $0.scale, "top10_overlap": $0.topOverlap,
            ] as [String: Any]
        }
    }

    /// The table: a header naming the reference, the number of targets and this model's route
    /// (`OutputStamp.routeText`), then one line per kind.
    public static func writeTable<Out: TextOutputStream>(_ rows: [Faithfulness.Row], reference: String, targets: Int, routeText: String, to out: inout Out) {
        Swift.print("faithfulness against \(reference) (f32 activations), over \(targets) targets; this model's route: \(routeText)", to: &out)
        Swift.print("kind                          terms   max|diff|   rms diff  (relative to the reference's max |term|)   top-10 overlap", to: &out)
        for r in rows {
            Swift.print(
                DecompositionTable.pad(r.kind, 28)
                    + String(
                        format: " %7d  %10.2e %10.2e   max %.2e, rms %.2e   %3.0f%%", r.terms, r.maxAbsDiff, r.rmsDiff, r.relMax, r.relRMS,
                        r.topOverlap * 100),
                to: &out)
        }
    }
}

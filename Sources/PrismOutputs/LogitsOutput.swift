import Foundation
import PrismSupport
import Prisms

/// `prism logits`'s outputs: the top next tokens at the last position.
public enum LogitsOutput {
    /// The `--json` object.
    /// - Parameters:
    ///   - top: the largest logits (`TopK.largest`), and `texts` each one's text (`PrismSession.text`).
    ///   - nanCount: NaN logits at the last position (stated only when there are some).
    ///   - logits: every position's full-vocabulary logits (`--full`), or nil.
    public static func json(ids: [Int], top: [(id: Int, logit: Float)], texts: [String], nanCount: Int, logits: [[Float]]?, route: String) -> [String: Any] {
        var obj: [String: Any] = [
            "ids": ids,
            "top": zip(top, texts).map { ["id": $0.id, "token": $1, "logit": Double($0.logit)] as [String: Any] },
        ]
        if nanCount > 0 { obj["nan_logits"] = nanCount }
        if let logits { obj["logits"] = logits.map { $0.map(Double.init) } }
        DecompositionJSON.stamp(&obj, route: route)
        return obj
    }

    /// The table: one line per top token (rank, id, logit, piece when `pieces` has one).
    /// - Parameters:
    ///   - tokens: the prompt's length (the last position is `tokens - 1`).
    ///   - vocabulary: the logits' count, for the NaN line.
    public static func writeTable<Out: TextOutputStream>(
        tokens: Int, top: [(id: Int, logit: Float)], pieces: [String?], nanCount: Int, vocabulary: Int, to out: inout Out
    ) {
        if nanCount > 0 {
            Swift.print(
                "logits contain NaN at \(nanCount) of \(vocabulary) vocabulary entries at position \(tokens - 1) (NaN weights?); NaN is not ranked", to: &out)
        }
        Swift.print("prompt: \(tokens) tokens; top \(top.count) next tokens at position \(tokens - 1):", to: &out)
        for (rank, e) in top.enumerated() {
            let piece = pieces[rank].map { " \(Display.quote($0))" } ?? ""
            Swift.print(String(format: "%3d  %8d  %12.5f%@", rank + 1, e.id, e.logit, piece), to: &out)
        }
    }
}

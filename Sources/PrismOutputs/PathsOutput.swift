import Foundation
import PrismSupport
import Prisms

/// `prism paths`'s outputs: per target, a head's or neuron's term split by the pieces of its
/// input (`PathDecomposition`), and the same frozen map applied to other tokens' embeddings.
public struct PathsOutput {
    /// The source position a head path goes through: its token and the head's attention to it.
    public struct Source {
        public var position: Int
        public var id: Int
        /// The token's text (`PrismSession.text`).
        public var token: String
        public var attention: Double

        public init(position: Int, id: Int, token: String, attention: Double) {
            self.position = position
            self.id = id
            self.token = token
            self.attention = attention
        }
    }

    public var ids: [Int]
    /// The position decomposed.
    public var position: Int
    /// One per target, in the targets' order.
    public var paths: [PathDecomposition]
    public var frozen: [String]
    /// `--apply-to`'s tokens as given, and per target the frozen map's value on each one's scaled
    /// embedding ([targets][tokens]; empty without `--apply-to`).
    public var appliedTo: [String]
    public var values: [[Double]]
    /// Nil for a neuron's path.
    public var source: Source?
    /// The route (`OutputStamp.route`) and its words for the table (`OutputStamp.routeText`).
    public var route: String
    public var routeText: String

    public init(
        ids: [Int], position: Int, paths: [PathDecomposition], frozen: [String], appliedTo: [String], values: [[Double]], source: Source?,
        route: String, routeText: String
    ) {
        self.ids = ids
        self.position = position
        self.paths = paths
        self.frozen = frozen
        self.appliedTo = appliedTo
        self.values = values
        self.source = source
        self.route = route
        self.routeText = routeText
    }

    /// The `--json` object (README, "prism paths").
    public func json() -> [String: Any] {
        var obj: [String: Any] = [
            "ids": ids, "position": position, "through": paths.first?.through ?? "", "frozen": frozen,
            "targets": paths.enumerated().map { k, path in
                [
                    "label": path.target.label, "pieces": Dictionary(uniqueKeysWithValues: zip(path.pieceNames, path.pieces)),
                    "piece_order": path.pieceNames, "total": path.total, "sum": path.pieces.reduce(0, +), "error": path.error,
                    "recorded_term": path.recorded,
                    "applied": appliedTo.isEmpty ? [] : zip(appliedTo, values[k]).map { ["token": $0.0, "value": $0.1] as [String: Any] },
                ] as [String: Any]
            },
        ]
        if let source {
            obj["source"] = ["position": source.position, "id": source.id, "token": source.token, "attention": source.attention] as [String: Any]
        }
        DecompositionJSON.stamp(&obj, route: route)
        return obj
    }

    /// The table: what the path goes through, then per target its pieces (and applied values).
    public func writeTable<Out: TextOutputStream>(to out: inout Out) {
        Swift.print("through \(paths.first?.through ?? "") at position \(position); frozen: \(frozen.joined(separator: "; "))", to: &out)
        if let source {
            Swift.print(
                "source \(source.position) \(Display.quote(source.token)) (id \(source.id)), attention \(String(format: "%.4f", source.attention))",
                to: &out)
        }
        Swift.print("route: \(routeText)", to: &out)
        for (k, path) in paths.enumerated() {
            Swift.print(
                "\ntarget \(path.target.label): term \(String(format: "%+.5f", path.total)) = sum of pieces \(String(format: "%+.5f", path.pieces.reduce(0, +))) (error \(String(format: "%.2e", path.error)))",
                to: &out)
            Swift.print(
                "  (the frozen map in fp32; decompose's term, from the recorded activations: \(String(format: "%+.5f", path.recorded))\(route == "int8" ? ", whose product's input the int8 route quantized" : ""))",
                to: &out)
            for (name, v) in zip(path.pieceNames, path.pieces) {
                Swift.print("  \(DecompositionTable.pad(name, 18)) \(DecompositionTable.fmt(v))", to: &out)
            }
            if !appliedTo.isEmpty {
                Swift.print("  the same frozen map applied to scaled embeddings:", to: &out)
                for (text, v) in zip(appliedTo, values[k]) {
                    Swift.print("  \(DecompositionTable.pad(text, 18)) \(DecompositionTable.fmt(v))", to: &out)
                }
            }
        }
    }

    /// The table as one string.
    public func table() -> String {
        var s = ""
        writeTable(to: &s)
        return s
    }
}

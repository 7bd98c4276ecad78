/// Where tokens stand in one position's logits: the model's top-1 and any token's rank (1 is the
/// top; ties share the better rank; NaN is never ranked). Every decomposition states them, so a
/// question about a token the model does not predict (`"Paris"` where it predicts `" Paris"`) shows.
public struct LogitRanks: Sendable {
    /// The full-vocabulary logits `[V]` of the decomposed position.
    public let logits: [Float]
    /// The largest non-NaN logit and its token; nil when every logit is NaN.
    public let top1: (id: Int, logit: Float)?

    public init(_ logits: [Float]) {
        self.logits = logits
        top1 = TopK.largest(logits[...], k: 1).first
    }

    /// 1 + how many tokens have a larger logit; nil for an id outside `[0, V)` or a NaN logit.
    public func rank(_ id: Int) -> Int? {
        guard id >= 0, id < logits.count, !logits[id].isNaN else { return nil }
        let v = logits[id]
        return 1 + logits.reduce(0) { $0 + ($1 > v ? 1 : 0) }
    }

    public func logit(_ id: Int) -> Float? { id >= 0 && id < logits.count ? logits[id] : nil }
}

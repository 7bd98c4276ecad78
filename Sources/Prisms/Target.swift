import PrismSupport

/// What is decomposed: one token's logit, or a difference of two logits
/// (`logit(a) - logit(b)`, the usual quantity of attribution studies). Both are linear
/// in the final residual stream once the final norm's scale is frozen.
public struct Target: Sendable, Equatable {
    /// `(token id, coefficient)`: the logit is `sum coef * logit(id)`.
    public var terms: [(id: Int, coef: Float)]
    public var label: String

    public static func token(_ id: Int, label: String? = nil) -> Target {
        Target(terms: [(id, 1)], label: label ?? "\(id)")
    }

    public static func difference(_ a: Int, _ b: Int, label: String? = nil) -> Target {
        Target(terms: [(a, 1), (b, -1)], label: label ?? "\(a) - \(b)")
    }

    public var ids: [Int] { terms.map(\.id) }

    public static func == (l: Target, r: Target) -> Bool {
        l.label == r.label && l.terms.map(\.id) == r.terms.map(\.id) && l.terms.map(\.coef) == r.terms.map(\.coef)
    }
}

import PrismModel
import PrismSupport

/// The prompt-independent half of the prisms' pull-backs, kept per target token.
///
/// A token's frozen readout is `b_t / rms_final(x_p)` with `b_t = E[t] * (1 + w_final)`: only
/// that scalar depends on the prompt. So `b_t W_O` and `b_t W_down` for every layer, the bulk
/// of a full decomposition (6.8 G multiply-adds for 10 targets on gemma-2b, about a fifth of a
/// 32-token forward pass), are computed once per token and reused, exactly, by every later
/// prompt that asks for that token: a study's sweep over prompts, a batch job's chunks,
/// several prompts of one chunk. Not for concurrent use (one `Prism` per thread).
public final class ReadoutPullBacks {
    /// One token's pull-backs: `wo` is `[layer][H * hd]`, `down` is `[layer][ff]`, flattened.
    final class Entry {
        var wo: [Float]
        var down: [Float]
        init(wo: [Float], down: [Float]) { self.wo = wo; self.down = down }
    }

    public let capacityBytes: Int
    /// Tokens that fit in `capacityBytes`.
    private let capacity: Int
    /// The model whose weights the entries come from (set on first use).
    private var owner: ObjectIdentifier?
    private var entries: [Int: Entry] = [:]
    private var order: [Int] = []  // oldest first, for eviction

    /// fp32 pull-backs of one token through every layer's W_O and W_down: 1.3 MiB on gemma-2b.
    public static func bytesPerToken(_ c: GemmaConfig) -> Int {
        4 * c.numHiddenLayers * (c.numAttentionHeads * c.headDim + c.intermediateSize)
    }

    /// Sixteen tokens (the addition study's ten digits and then some): 21 MiB on gemma-2b;
    /// a batch job's memory plan counts it as working memory.
    public static func defaultCapacity(_ c: GemmaConfig) -> Int { 16 * bytesPerToken(c) }

    public init(config: GemmaConfig, capacityBytes: Int? = nil) {
        self.capacityBytes = capacityBytes ?? Self.defaultCapacity(config)
        capacity = self.capacityBytes / max(1, Self.bytesPerToken(config))
    }

    /// Tokens whose pull-backs are held.
    public var cachedTokens: [Int] { order }

    /// Pull-backs are only valid for the weights they were computed from.
    func bind(to model: GemmaModel) throws {
        let id = ObjectIdentifier(model)
        if let owner, owner != id { throw PrismError("these pull-backs belong to another model; give each model its own ReadoutPullBacks") }
        owner = id
    }

    func entry(_ id: Int) -> Entry? { entries[id] }

    /// Makes room for up to `count` new entries by evicting the oldest ones not in `keep`;
    /// returns how many fit (the rest are computed for this call only).
    func reserve(_ count: Int, keeping keep: Set<Int>) -> Int {
        let fits = { self.capacity - self.entries.count }
        var i = 0
        while fits() < count && i < order.count {
            if keep.contains(order[i]) { i += 1; continue }
            entries[order[i]] = nil
            order.remove(at: i)
        }
        return max(0, min(count, fits()))
    }

    func insert(_ id: Int, _ entry: Entry) {
        guard entries[id] == nil, entries.count < capacity else { return }
        entries[id] = entry
        order.append(id)
    }
}

import PrismSupport

/// Plans the working set of a forward pass before it starts, against a memory budget:
/// activations, KV cache, scratch, recorded activations and resident weight pages. When the
/// whole model does not fit, weights are streamed (each layer's pages released once done),
/// so the floor is one layer of weights, not the model.
public struct MemoryPlan: Sendable {
    /// The process before any model work (Swift runtime, libraries, OpenBLAS thread buffers as
    /// touched), measured with `prism bench`'s RSS probe on this kind of machine.
    public static let baseline = 40 << 20

    public var budget: Int?
    public var weightBytes: Int
    public var largestLayerBytes: Int
    public var workingBytes: Int
    /// Weight pages the plan lets stay resident.
    public var residentWeightBytes: Int
    public var streamWeights: Bool
    /// When streaming: the leading layers whose pages stay resident (what the budget holds
    /// beyond the streamed floor), so each pass re-reads only the rest.
    public var residentLayers = 0

    /// Memory the process already holds beyond the baseline when it plans (the tokenizer: see
    /// `PrismSession.heldBytes`).
    public var heldBytes = 0

    public var total: Int { Self.baseline + heldBytes + residentWeightBytes + workingBytes }

    /// fp32 buffers of the forward pass per token in flight.
    public static func scratchPerToken(_ c: GemmaConfig) -> Int {
        let d = c.hiddenSize, qw = c.numAttentionHeads * c.headDim, kvw = c.kvHeads * c.headDim, ff = c.intermediateSize
        return 4 * (5 * d + 2 * qw + 2 * kvw + 2 * ff)
    }

    public static func kvPerToken(_ c: GemmaConfig) -> Int { 4 * c.numHiddenLayers * 2 * c.kvHeads * c.headDim }

    /// Everything `PrismActivations.needed` keeps, per token of a prompt of `tokens` tokens.
    public static func recordedPerToken(_ c: GemmaConfig, tokens: Int) -> Int {
        let d = c.hiddenSize, qw = c.numAttentionHeads * c.headDim, kvw = c.kvHeads * c.headDim, ff = c.intermediateSize
        return 4 * (c.numHiddenLayers * (2 + kvw + qw + 5 * d + 3 * ff + c.numAttentionHeads * tokens) + d + 1)
    }

    /// - Parameters:
    ///   - tokens: tokens in flight (all prompts of a batch chunk).
    ///   - cacheTokens: positions the KV cache allocates: sequences x the longest one (the cache
    ///     is rectangular); nil when that is `tokens` (one sequence).
    ///   - extraBytes: recorded activations and other per-run state.
    ///   - logitRows: positions whose full-vocabulary logits are computed.
    ///   - heldBytes: memory the process already holds beyond the baseline (the tokenizer: see
    ///     `PrismSession.heldBytes`).
    /// - Throws: `PrismError` of kind `.overBudget` when `budget` is too small even with every
    ///   layer streamed (its message names the minimum).
    public static func make(
        model: GemmaModel, budget: Int?, tokens: Int, cacheTokens: Int? = nil, extraBytes: Int, logitRows: Int, heldBytes: Int = 0
    ) throws -> MemoryPlan {
        let c = model.config
        let layers = model.weights.layers.map(\.byteCount)
        let embedding = model.weights.embedding.byteCount
        let weights = layers.reduce(0, +) + embedding
        let largest = layers.max() ?? 0
        // Dequantization tiles (1 MiB each for the projections) and the logits rows.
        let working =
            tokens * scratchPerToken(c) + max(tokens, cacheTokens ?? 0) * kvPerToken(c) + extraBytes + (2 << 20)
            + logitRows * c.vocabSize * 8
        // Streaming keeps one layer, plus one 8192-row tile of the unembedding when logits are asked for.
        let embeddingTile = logitRows > 0 ? min(embedding, 8192 * embedding / max(1, c.vocabSize)) : 0
        let streamed = largest + embeddingTile
        var plan = MemoryPlan(
            budget: budget, weightBytes: weights, largestLayerBytes: largest, workingBytes: working,
            residentWeightBytes: weights, streamWeights: false)
        plan.heldBytes = heldBytes
        guard let budget else { return plan }
        if plan.total <= budget { return plan }
        plan.streamWeights = true
        plan.residentWeightBytes = streamed
        guard plan.total <= budget else {
            throw PrismError(
                "--max-memory \(ByteSize.format(budget)) is too small: this model and prompt need at least \(ByteSize.format(plan.total)) (one layer of weights \(ByteSize.format(largest))\(embeddingTile > 0 ? ", a tile of the unembedding \(ByteSize.format(embeddingTile))" : ""), working set \(ByteSize.format(working))\(heldBytes > 0 ? ", tokenizer \(ByteSize.format(heldBytes))" : ""), the process itself \(ByteSize.format(Self.baseline)))",
                kind: .overBudget)
        }
        // Keep leading layers resident in 60% of what is left: a decode step then faults in only
        // the streamed layers. The rest is margin for the estimates above (a 200-prompt batch
        // under 1 GiB peaked at 999 MiB when 85% was kept, 2% under its budget: too close).
        var spare = (budget - plan.total) * 60 / 100
        for bytes in layers {
            guard bytes <= spare else { break }
            spare -= bytes
            plan.residentLayers += 1
            plan.residentWeightBytes += bytes
        }
        return plan
    }
}

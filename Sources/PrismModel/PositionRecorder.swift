import PrismSupport

/// Keeps, for each sequence of a batch, only what decomposing ONE position needs: that
/// position's rows of the row-wise activations, its row of each attention pattern, and the
/// values of the positions it attends to. Memory grows with prompts x (d + ff + layers x
/// tokens), not with tokens x ff, which is what lets a batch chunk hold many prompts.
public final class PositionRecorder: ActivationRecorder {
    let positions: [Int]
    let ids: [[Int]]
    let wanted: Set<String>
    let patternLayer: [String: Int]
    let valueNames: Set<String>
    /// [sequence][name] -> values
    var rows: [[String: [Float]]]

    /// `positions[s]` is the position decomposed in sequence `s` (already resolved, < count).
    public init(ids: [[Int]], positions: [Int], layers: Int) {
        self.ids = ids
        self.positions = positions
        wanted = PrismActivations.forDecomposition(layers: layers)
        patternLayer = Dictionary(uniqueKeysWithValues: (0..<layers).map { (ActivationName.pattern($0), $0) })
        valueNames = Set((0..<layers).map(ActivationName.v))
        rows = Array(repeating: [:], count: ids.count)
    }

    public func wants(_ name: String) -> Bool { wanted.contains(name) }

    public func record(_ name: String, sequence s: Int, shape: [Int], values: UnsafeBufferPointer<Float>) {
        let p = positions[s]
        if patternLayer[name] != nil {
            // [H, T, S] -> row p of every head, [H, S]
            let (H, T, S) = (shape[0], shape[1], shape[2])
            var out = [Float](repeating: 0, count: H * S)
            for h in 0..<H { for j in 0..<S { out[h * S + j] = values[(h * T + p) * S + j] } }
            rows[s][name] = out
        } else if valueNames.contains(name) {
            let width = shape.dropFirst().reduce(1, *)
            rows[s][name] = Array(values[0..<((p + 1) * width)])
        } else {
            let width = shape.dropFirst().reduce(1, *)
            rows[s][name] = Array(values[(p * width)..<((p + 1) * width)])
        }
    }

    public func source(sequence s: Int) -> ActivationSource { PositionSource(recorder: self, sequence: s) }

    /// Bytes kept per prompt of `tokens` tokens: what a batch chunk is sized by.
    public static func bytesPerPrompt(tokens: Int, config c: GemmaConfig) -> Int {
        let d = c.hiddenSize, ff = c.intermediateSize, H = c.numAttentionHeads, hd = c.headDim
        let perLayer = 2 * d + H * hd + ff + H * tokens + tokens * c.kvHeads * hd + 2  // + the post-norm scales
        return 4 * (c.numHiddenLayers * perLayer + 2 * d + 1)
    }
}

struct PositionSource: ActivationSource {
    let recorder: PositionRecorder
    let sequence: Int
    var tokenIds: [Int] { recorder.ids[sequence] }

    func stored(_ name: String) throws -> [Float] {
        guard let v = recorder.rows[sequence][name] else { throw PrismError("activation \(name) was not recorded for this batch") }
        return v
    }

    func activation(_ name: String) throws -> ActivationTensor {
        guard recorder.valueNames.contains(name) else {
            throw PrismError("a batch keeps only position \(recorder.positions[sequence]) of \(name)")
        }
        let v = try stored(name)
        let p = recorder.positions[sequence]
        return ActivationTensor(shape: [p + 1, v.count / (p + 1)], values: v)
    }

    func row(_ name: String, _ position: Int) throws -> ArraySlice<Float> {
        guard position == recorder.positions[sequence] else {
            throw PrismError("a batch keeps only position \(recorder.positions[sequence]), not \(position)")
        }
        return try stored(name)[...]
    }

    func patternRow(layer: Int, position: Int) throws -> [Float] {
        guard position == recorder.positions[sequence] else { throw PrismError("a batch keeps only position \(recorder.positions[sequence])") }
        return try stored(ActivationName.pattern(layer))
    }
}

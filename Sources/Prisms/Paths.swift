import PrismKernels
import PrismModel
import PrismSupport

/// Chained prisms: a frozen head or neuron is a linear map from the residual vector it
/// reads to the target logits, so it can be applied to each residual piece of its input
/// (the pieces add up to its term) or to a vector the prompt never saw (another token's
/// embedding: "what would this head write for Russia instead of France").
public struct PathDecomposition: Sendable {
    public var target: Target
    /// `L{l}H{h}@{j}` (head h of layer l reading source j) or `L{l}N{n}` (see `ComponentName`).
    public var through: String
    /// Piece names in stream order: `embed`, `blocks.0.attn`, `blocks.0.mlp`, ...
    public var pieceNames: [String]
    public var pieces: [Double]
    /// The term being split (head-source term or neuron term), computed directly: the frozen
    /// map applied to the whole input stream.
    public var total: Double
    /// The same term as `decompose` reports it, from the recorded activations (the head's value
    /// at the source, the neuron's post-activation). On the int8 route the forward pass
    /// quantized the input of that product (W_V's, W_up's), which the fp32 map does not: the
    /// two then differ at the 1e-3 level; with exact activations they agree to rounding.
    public var recorded: Double
    public var error: Double { pieces.reduce(0, +) - total }
}

/// One frozen map, ready to be applied to any d-vector: `value(x) = factor * (r . x)`.
public struct FrozenMap: Sendable {
    public var target: Target
    public var through: String
    public var factor: Double
    public var direction: [Float]  // r, [d]
    /// The term `decompose` reports for this target and component (see `PathDecomposition.recorded`).
    public var recorded: Double

    public func apply(_ x: ArraySlice<Float>) -> Double { factor * dotD(direction[...], x) }
}

extension Prism {
    /// The map of head `h` of layer `l` reading source position `j`, for position `p`:
    /// `x_j -> A[h,p,j] * s1_j * (r . x_j)`, `r = (1 + w_ln1) * W_V^g^T (W_O^h^T u')` with
    /// `u' = u` (Gemma 1) or `u' = s_post * (1 + w_ln1_post) * u` through Gemma 2/3's frozen
    /// post-attention norm. The value path only: Gemma 3's q/k norms shape the pattern, which is frozen.
    public func headMaps(_ source: ActivationSource, position: Int, layer l: Int, head h: Int, source j: Int, targets: [Target]) throws -> [FrozenMap] {
        let ids = source.tokenIds
        let p = try Self.resolve(position: position, count: ids.count)
        try checkLayer(l)
        guard h >= 0, h < model.heads else { throw PrismError("head \(h) is out of range (0..<\(model.heads))") }
        guard j >= 0, j <= p else { throw PrismError("source \(j) is out of range: position \(p) attends to 0...\(p)") }
        let d = model.d, hd = model.headDim, H = model.heads, K = targets.count
        let g = h / (H / model.kvHeads)
        let lw = model.weights.layers[l]
        let u = Self.gained(try readouts(targets, source: source, position: p), rows: K, by: lw.ln1PostGain)
        let sPost = Double(try postScale(source, ActivationName.ln1PostScale(l), lw.ln1PostGain, p))
        var uWo = [Float](repeating: 0, count: K * H * hd)
        u.withUnsafeBufferPointer { up in uWo.withUnsafeMutableBufferPointer { pullBack(up.baseAddress!, count: K, lw.o, $0.baseAddress!) } }
        // W_V rows of group g: [hd, d].
        var wv = [Float](repeating: 0, count: hd * d)
        wv.withUnsafeMutableBufferPointer { lw.v.dequantize(rows: (g * hd)..<((g + 1) * hd), into: $0.baseAddress!) }
        let pattern = try source.patternRow(layer: l, position: p)
        let a = Double(pattern[h * (pattern.count / H) + j])
        let s1 = Double(try source.row(ActivationName.ln1Scale(l), j).first ?? 0)
        // The head's recorded value at the source: [T, kvH, hd], group g's row at j.
        let v = try source.activation(ActivationName.v(l))
        let kvw = model.kvHeads * hd
        guard v.values.count >= (j + 1) * kvw else { throw PrismError("activation shapes of layer \(l) do not match the prompt") }
        let vj = v.values[(j * kvw + g * hd)..<(j * kvw + (g + 1) * hd)]
        var maps: [FrozenMap] = []
        for k in 0..<K {
            var r = [Float](repeating: 0, count: d)
            for i in 0..<hd {
                let c = uWo[k * H * hd + h * hd + i]
                for e in 0..<d { r[e] += c * wv[i * d + e] }
            }
            for e in 0..<d { r[e] *= lw.ln1Gain[e] }
            let uw = uWo[(k * H * hd + h * hd)..<(k * H * hd + (h + 1) * hd)]
            maps.append(
                FrozenMap(
                    target: targets[k], through: ComponentName.headSource(l, h, j), factor: a * s1 * sPost, direction: r,
                    recorded: a * sPost * dotD(vj, uw)))
        }
        return maps
    }

    /// The map of neuron `n` of layer `l` at position `p`:
    /// `x_mid -> gelu(gate_n) * (W_down[:, n] . u') * s2_p * ((W_up[n] * (1 + w_ln2)) . x_mid)`, through
    /// the MLP's input norm (Gemma 2/3: pre_feedforward_layernorm) and, on Gemma 2/3, with
    /// `u' = s_post * (1 + w_ln2_post) * u` through the frozen post-feedforward norm.
    public func neuronMaps(_ source: ActivationSource, position: Int, layer l: Int, neuron n: Int, targets: [Target]) throws -> [FrozenMap] {
        let ids = source.tokenIds
        let p = try Self.resolve(position: position, count: ids.count)
        try checkLayer(l)
        guard n >= 0, n < model.ff else { throw PrismError("neuron \(n) is out of range (0..<\(model.ff))") }
        let d = model.d, ff = model.ff, K = targets.count
        let lw = model.weights.layers[l]
        let u = Self.gained(try readouts(targets, source: source, position: p), rows: K, by: lw.ln2PostGain)
        let sPost = Double(try postScale(source, ActivationName.ln2PostScale(l), lw.ln2PostGain, p))
        var uWd = [Float](repeating: 0, count: K * ff)
        u.withUnsafeBufferPointer { up in uWd.withUnsafeMutableBufferPointer { pullBack(up.baseAddress!, count: K, lw.down, $0.baseAddress!) } }
        var wUp = [Float](repeating: 0, count: d)
        wUp.withUnsafeMutableBufferPointer { lw.up.dequantize(rows: n..<(n + 1), into: $0.baseAddress!) }
        for e in 0..<d { wUp[e] *= lw.ln2Gain[e] }
        let gate = Double(try source.row(ActivationName.gateAct(l), p).dropFirst(n).first ?? 0)
        let s2 = Double(try source.row(ActivationName.ln2Scale(l), p).first ?? 0)
        let post = Double(try source.row(ActivationName.post(l), p).dropFirst(n).first ?? 0)
        return (0..<K).map { k in
            FrozenMap(
                target: targets[k], through: ComponentName.neuron(l, n), factor: gate * Double(uWd[k * ff + n]) * s2 * sPost, direction: wUp,
                recorded: post * Double(uWd[k * ff + n]) * sPost)
        }
    }

    /// Splits head `h`'s term for source `j` into the residual pieces of `x_j` (the input of layer `l`).
    public func headPath(_ source: ActivationSource, position: Int, layer l: Int, head h: Int, source j: Int, targets: [Target]) throws -> [PathDecomposition] {
        let maps = try headMaps(source, position: position, layer: l, head: h, source: j, targets: targets)
        let (names, pieces) = try residualPieces(source, position: j, upTo: l, includeAttentionOf: false)
        let x = try source.row(ActivationName.residPre(l), j)
        return maps.map { m in
            PathDecomposition(
                target: m.target, through: m.through, pieceNames: names, pieces: pieces.map { m.apply($0) }, total: m.apply(x), recorded: m.recorded)
        }
    }

    /// Splits neuron `n`'s term into the residual pieces of its input stream (resid_mid of layer `l`).
    public func neuronPath(_ source: ActivationSource, position: Int, layer l: Int, neuron n: Int, targets: [Target]) throws -> [PathDecomposition] {
        let p = try Self.resolve(position: position, count: source.tokenIds.count)
        let maps = try neuronMaps(source, position: p, layer: l, neuron: n, targets: targets)
        let (names, pieces) = try residualPieces(source, position: p, upTo: l, includeAttentionOf: true)
        let x = try source.row(ActivationName.residMid(l), p)
        return maps.map { m in
            PathDecomposition(
                target: m.target, through: m.through, pieceNames: names, pieces: pieces.map { m.apply($0) }, total: m.apply(x), recorded: m.recorded)
        }
    }

    /// Applies each map to scaled token embeddings `sqrt(d) * E[s]`: `[map][token]`.
    public func applyToEmbeddings(_ maps: [FrozenMap], tokens: [Int]) throws -> [[Double]] {
        let d = model.d
        let scale = Float(Double(d).squareRoot())
        var rows: [[Float]] = []
        for s in tokens {
            guard s >= 0, s < model.vocab else { throw PrismError("token id \(s) is outside the vocabulary (0..<\(model.vocab))") }
            var e = [Float](repeating: 0, count: d)
            e.withUnsafeMutableBufferPointer { model.weights.embedding.dequantize(rows: s..<(s + 1), into: $0.baseAddress!) }
            rows.append(e.map { $0 * scale })
        }
        return maps.map { m in rows.map { m.apply($0[...]) } }
    }

    /// The residual stream at `position` entering layer `upTo` (plus that layer's attention
    /// write when `includeAttentionOf`), as its pieces: embed, then each block's write.
    func residualPieces(_ source: ActivationSource, position j: Int, upTo l: Int, includeAttentionOf: Bool) throws -> ([String], [ArraySlice<Float>]) {
        var names = ["embed"]
        var pieces = [try source.row(ActivationName.embed, j)]
        for m in 0..<l {
            names.append("blocks.\(m).attn")
            pieces.append(try source.row(ActivationName.attnOut(m), j))
            names.append("blocks.\(m).mlp")
            pieces.append(try source.row(ActivationName.mlpOut(m), j))
        }
        if includeAttentionOf {
            names.append("blocks.\(l).attn")
            pieces.append(try source.row(ActivationName.attnOut(l), j))
        }
        return (names, pieces)
    }

    func checkLayer(_ l: Int) throws {
        guard l >= 0, l < config.numHiddenLayers else {
            throw PrismError("layer \(l) is out of range (0..<\(config.numHiddenLayers))")
        }
    }
}

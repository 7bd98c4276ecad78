import PrismKernels
import PrismModel
import PrismSupport

/// Computes the prisms of one recorded sequence, in fp32 products with Double sums, from
/// the stored activations and the model's weights (the same weights the model ran with).
///
/// Several targets share one pass over the activations: their tokens' readout directions are
/// stacked into `B [K, d]` and pulled back through each projection once (`B W_O`, `B W_down`),
/// so per-neuron and per-head-per-source terms never build `[position, source, head, d]` tensors.
/// The pull-backs do not depend on the prompt (`pullBacks`): later prompts asking for the same
/// tokens reuse them.
public struct Prism {
    public let model: GemmaModel
    public let pullBacks: ReadoutPullBacks
    /// On a model that soft-caps its logits (Gemma 2): decompose the capped logit (what the model
    /// outputs, each token's terms times its frozen factor) or the pre-cap one. No effect otherwise.
    public var logitKind: LogitKind

    public init(model: GemmaModel, pullBacks: ReadoutPullBacks? = nil, logitKind: LogitKind = .capped) {
        self.model = model
        self.pullBacks = pullBacks ?? ReadoutPullBacks(config: model.config)
        self.logitKind = logitKind
    }

    /// For a single prompt: keeps no pull-backs (nothing would reuse them).
    public static func once(_ model: GemmaModel) -> Prism {
        Prism(model: model, pullBacks: ReadoutPullBacks(config: model.config, capacityBytes: 0))
    }

    var config: GemmaConfig { model.config }

    /// Resolves -1 (last) and other negative positions; errors when outside the prompt.
    public static func resolve(position: Int, count: Int) throws -> Int {
        let p = position < 0 ? count + position : position
        guard p >= 0, p < count else {
            throw PrismError(
                "position \(position) is out of range: the prompt has \(count) tokens (0..\(count - 1), or -\(count)..-1 counting from the end, -1 the last)")
        }
        return p
    }

    /// The frozen readouts `u = sum coef * E[id] * (1 + w_final) / rms_final(x_p)`, `[K, d]`
    /// (on a soft-capped model showing the capped logit, each coef times its token's frozen `g`).
    public func readouts(_ targets: [Target], source: ActivationSource, position p: Int) throws -> [Float] {
        let d = model.d
        let scale = try frozenScale(source, at: p)
        var u = [Float](repeating: 0, count: targets.count * d)
        for (k, t0) in targets.enumerated() {
            let t = try softcapped(t0, source: source, position: p).target
            let b = try readoutBasis(t.ids)
            for (j, term) in t.terms.enumerated() {
                let c = term.coef * scale
                for i in 0..<d { u[k * d + i] += c * b[j * d + i] }
            }
        }
        return u
    }

    /// - Parameter options: the run's options; under a budget (`streamWeights`) the weight pages
    ///   the pull-backs read are given back layer by layer, as the forward pass gives them back.
    public func decompose(_ source: ActivationSource, position: Int, targets: [Target], options: RunOptions = RunOptions()) throws -> Decomposition {
        try decomposeMany([(source, position, targets)], options: options)[0]
    }

    /// Several prompts at once, layer-major like the forward pass: the target tokens of every
    /// prompt not already in `pullBacks` are pulled back through each layer's W_O and W_down
    /// once, together, and each prompt's readout is then its frozen scale times those rows.
    public func decomposeMany(
        _ items: [(source: ActivationSource, position: Int, targets: [Target])],
        options: RunOptions = RunOptions()
    ) throws -> [Decomposition] {
        let L = config.numHiddenLayers, H = model.heads, hd = model.headDim, d = model.d, ff = model.ff
        let group = H / model.kvHeads, kvw = model.kvHeads * hd, ow = H * hd
        var positions: [Int] = [], scales: [Float] = [], u: [Float] = [], offsets: [Int] = []
        var outs: [[TargetDecomposition]] = []
        var effective: [[Target]] = []  // the targets with their soft-cap factors folded into the coefficients
        for item in items {
            let ids = item.source.tokenIds
            let p = try Self.resolve(position: item.position, count: ids.count)
            guard !item.targets.isEmpty else { throw PrismError("no targets to decompose") }
            let ui = try readouts(item.targets, source: item.source, position: p)
            let x = try item.source.row(ActivationName.residPost(L - 1), p)
            let embed = try item.source.row(ActivationName.embed, p)
            let capped = try item.targets.map { try softcapped($0, source: item.source, position: p) }
            effective.append(capped.map(\.target))
            outs.append(
                item.targets.enumerated().map { k, t in
                    let uk = ui[(k * d)..<((k + 1) * d)]
                    return TargetDecomposition(
                        target: t, softcap: capped[k].softcap, logit: dotD(uk, x), embed: dotD(uk, embed), attn: [], mlp: [], heads: [],
                        headSources: [], neurons: [])
                })
            positions.append(p)
            scales.append(try frozenScale(item.source, at: p))
            offsets.append(u.count / d)
            u += ui
        }

        // The tokens to pull back: those no earlier call left in the cache.
        try pullBacks.bind(to: model)
        var tokens: [Int] = []
        for item in items { for t in item.targets { for id in t.ids where !tokens.contains(id) { tokens.append(id) } } }
        let missing = tokens.filter { pullBacks.entry($0) == nil }
        let kept = pullBacks.reserve(missing.count, keeping: Set(tokens))
        let fresh = (0..<kept).map { _ in ReadoutPullBacks.Entry(wo: [Float](repeating: 0, count: L * ow), down: [Float](repeating: 0, count: L * ff)) }
        let M = missing.count
        let basis = try readoutBasis(missing)  // [M, d]
        var bWo = [Float](repeating: 0, count: M * ow), bWd = [Float](repeating: 0, count: M * ff)
        var uWo = [Float](repeating: 0, count: ow), uWd = [Float](repeating: 0, count: ff)

        for l in 0..<L {
            let lw = model.weights.layers[l]
            if M > 0 {
                // Through the post-norms' fixed gains (Gemma 2/3): still prompt-independent.
                let basisA = Self.gained(basis, rows: M, by: lw.ln1PostGain), basisM = Self.gained(basis, rows: M, by: lw.ln2PostGain)
                basisA.withUnsafeBufferPointer { bp in
                    bWo.withUnsafeMutableBufferPointer { pullBack(bp.baseAddress!, count: M, lw.o, $0.baseAddress!) }  // [M, H*hd]
                }
                basisM.withUnsafeBufferPointer { bp in
                    bWd.withUnsafeMutableBufferPointer { pullBack(bp.baseAddress!, count: M, lw.down, $0.baseAddress!) }  // [M, ff]
                }
                for (j, e) in fresh.enumerated() {
                    e.wo.replaceSubrange((l * ow)..<((l + 1) * ow), with: bWo[(j * ow)..<((j + 1) * ow)])
                    e.down.replaceSubrange((l * ff)..<((l + 1) * ff), with: bWd[(j * ff)..<((j + 1) * ff)])
                }
                // Under a memory budget the weights stream: give these pages back as the forward pass does.
                if options.releasesLayer(l) {
                    WeightMatrix.release(together: [lw.o, lw.down])
                }
            }
            // This layer's recorded activations at each prompt's position (read here: sources are
            // not Sendable), then every (prompt, target) pair's terms on the workers.
            var inputs: [LayerInputs] = []
            var tasks: [LayerTask] = []
            for (i, item) in items.enumerated() {
                let source = item.source, p = positions[i]
                let input = LayerInputs(
                    attnOut: try source.row(ActivationName.attnOut(l), p), mlpOut: try source.row(ActivationName.mlpOut(l), p),
                    z: try source.row(ActivationName.z(l), p),  // [H * hd]
                    v: try source.activation(ActivationName.v(l)),  // [T, kvH, hd]
                    pattern: try source.patternRow(layer: l, position: p),  // [H, S]
                    post: try source.row(ActivationName.post(l), p),  // [ff]
                    attnPostScale: try postScale(source, ActivationName.ln1PostScale(l), lw.ln1PostGain, p),
                    mlpPostScale: try postScale(source, ActivationName.ln2PostScale(l), lw.ln2PostGain, p), heads: H)
                let S = input.S
                guard input.pattern.count == H * S, S > p, (input.v.shape.first ?? 0) > p, input.v.values.count >= (p + 1) * kvw else {
                    throw PrismError("activation shapes of layer \(l) do not match the prompt")
                }
                inputs.append(input)
            }
            // (prompt, target) pairs a group at a time: each task holds copies of its pull-backs
            // (~(d + H hd + ff) floats), which a group keeps bounded however many prompts a chunk has.
            let pairs = items.indices.flatMap { i in effective[i].indices.map { (i, $0) } }
            for first in stride(from: 0, to: pairs.count, by: Self.layerGroup) {
                tasks.removeAll(keepingCapacity: true)
                for (i, k) in pairs[first..<min(pairs.count, first + Self.layerGroup)] {
                    let row = offsets[i] + k, target = effective[i][k]
                    // This target's pull-backs at layer l: its tokens' rows times the prompt's frozen scale.
                    combine(target, scale: scales[i] * inputs[i].attnPostScale, layer: l, missing: missing, fresh: bWo, freshWidth: ow, into: &uWo) {
                        $0.wo
                    }
                    combine(target, scale: scales[i] * inputs[i].mlpPostScale, layer: l, missing: missing, fresh: bWd, freshWidth: ff, into: &uWd) {
                        $0.down
                    }
                    tasks.append(LayerTask(item: i, target: k, position: positions[i], u: Array(u[(row * d)..<((row + 1) * d)]), uWo: uWo, uWd: uWd))
                }
                let terms = Self.layerTerms(tasks, inputs, heads: H, headDim: hd, group: group, kvWidth: kvw, threads: options.threads)
                for (t, task) in tasks.enumerated() {
                    let k = task.target
                    outs[task.item][k].attn.append(terms[t].attn)
                    outs[task.item][k].mlp.append(terms[t].mlp)
                    outs[task.item][k].heads.append(terms[t].heads)
                    outs[task.item][k].headSources.append(terms[t].sources)
                    outs[task.item][k].neurons.append(terms[t].neurons)
                }
            }
        }
        for (j, e) in fresh.enumerated() { pullBacks.insert(missing[j], e) }
        let frozen = Decomposition.frozen(config, logit: logitKind)
        return items.indices.map { Decomposition(ids: items[$0].source.tokenIds, position: positions[$0], targets: outs[$0], frozen: frozen) }
    }

    /// `rows` rows of `d` values, each multiplied elementwise by `gain` (none: `x` itself).
    static func gained(_ x: [Float], rows: Int, by gain: [Float]?) -> [Float] {
        guard let gain else { return x }
        let d = gain.count
        var out = x
        for r in 0..<rows { for i in 0..<d { out[r * d + i] *= gain[i] } }
        return out
    }

    /// The frozen `1 / rms` of a post-norm at position `p`; 1 when the layer has no post-norm.
    func postScale(_ source: ActivationSource, _ name: String, _ gain: [Float]?, _ p: Int) throws -> Float {
        guard gain != nil else { return 1 }
        guard let s = try source.row(name, p).first else { throw PrismError("\(name) is empty") }
        return s
    }

    /// `target` as decomposed: on a soft-capped model showing the capped logit, each coefficient
    /// times its token's frozen factor `g = c tanh(z / c) / z` (z the token's pre-cap logit at
    /// `p`, read from the recorded final stream); unchanged otherwise.
    public func softcapped(_ target: Target, source: ActivationSource, position p: Int) throws -> (target: Target, softcap: Softcap?) {
        guard let cap = config.finalLogitSoftcapping else { return (target, nil) }
        let x = try source.row(ActivationName.residPost(config.numHiddenLayers - 1), p)
        let scale = Double(try frozenScale(source, at: p))
        let b = try readoutBasis(target.ids)
        let d = model.d
        let z = target.terms.indices.map { j in scale * dotD(b[(j * d)..<((j + 1) * d)], x) }
        let g = z.map { Softcap.factor($0, cap: cap) }
        let coefs = target.terms.map { Double($0.coef) }
        let info = Softcap(
            cap: cap, shown: logitKind, preCapLogits: z, factors: g,
            preCapLogit: zip(coefs, z).reduce(0) { $0 + $1.0 * $1.1 },
            cappedLogit: zip(coefs, zip(z, g)).reduce(0) { $0 + $1.0 * $1.1.0 * $1.1.1 })
        guard logitKind == .capped else { return (target, info) }
        var t = target
        t.terms = target.terms.enumerated().map { j, term in (term.id, Float(Double(term.coef) * g[j])) }
        return (t, info)
    }

    /// The frozen final-norm scale `1 / rms_final(x_p)`.
    func frozenScale(_ source: ActivationSource, at p: Int) throws -> Float {
        guard let scale = try source.row(ActivationName.lnFinalScale, p).first else { throw PrismError("ln_final.scale is empty") }
        return scale
    }

    /// `b_t = E[t] * (1 + w_final)` for each token, `[count, d]`: a readout before the prompt's scale.
    func readoutBasis(_ tokens: [Int]) throws -> [Float] {
        let d = model.d
        var b = [Float](repeating: 0, count: tokens.count * d)
        try b.withUnsafeMutableBufferPointer { bp in
            for (k, id) in tokens.enumerated() {
                guard id >= 0, id < model.vocab else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(model.vocab))") }
                let row = bp.baseAddress! + k * d
                model.weights.embedding.dequantize(rows: id..<(id + 1), into: row)
                for i in 0..<d { row[i] *= model.weights.finalNormGain[i] }
            }
        }
        return b
    }

    /// `out = scale * sum coef * P_l[id]` over the target's tokens, each token's layer-l row taken
    /// from the cache or from this call's fresh pull-backs (`fresh [missing.count, width]`).
    private func combine(
        _ target: Target, scale: Float, layer l: Int, missing: [Int], fresh: [Float], freshWidth w: Int,
        into out: inout [Float], _ part: (ReadoutPullBacks.Entry) -> [Float]
    ) {
        for i in 0..<w { out[i] = 0 }
        for (id, coef) in target.terms {
            let c = coef * scale
            if let e = pullBacks.entry(id) {
                let rows = part(e)
                for i in 0..<w { out[i] += c * rows[l * w + i] }
            } else if let j = missing.firstIndex(of: id) {
                for i in 0..<w { out[i] += c * fresh[j * w + i] }
            }
        }
    }
}

/// Dot product of `n` floats at `a` and `b`: fp32 products widened, accumulated in Double
/// (four partial sums, so the loop vectorizes).
@inline(__always)
func dotD(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = 0
    while i + 4 <= n {
        s0 += Double(a[i]) * Double(b[i])
        s1 += Double(a[i + 1]) * Double(b[i + 1])
        s2 += Double(a[i + 2]) * Double(b[i + 2])
        s3 += Double(a[i + 3]) * Double(b[i + 3])
        i += 4
    }
    while i < n {
        s0 += Double(a[i]) * Double(b[i])
        i += 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// Dot product of two equal-length slices, accumulated in Double.
@inline(__always)
func dotD(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            guard let pa = ap.baseAddress, let pb = bp.baseAddress else { return 0 }
            return dotD(pa, pb, min(ap.count, bp.count))
        }
    }
}

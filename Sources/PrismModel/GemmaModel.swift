import Foundation
import PrismKernels
import PrismSupport

/// Gemma forward pass (Gemma 1, 2 and 3 text), in fp32 over weights of any stored kind.
///
/// Layer-major over a batch: the new tokens of every sequence are stacked into one
/// `[N, d]` matrix, so each projection reads its weight once for the whole batch; only
/// attention runs per sequence. Every intermediate the prisms read is offered to the
/// recorder under its canonical name (`ActivationName`).
///
/// The model holds weights and configuration only; how a call runs (route, streaming) is a
/// `RunOptions` value passed to it, so concurrent calls with different options are safe.
public final class GemmaModel: Sendable {
    public let config: GemmaConfig
    public let weights: GemmaWeights
    /// RoPE of each layer (Gemma 3's sliding layers use their own base).
    public let ropes: [Rope]
    public let activation: GemmaConfig.Activation

    public init(config: GemmaConfig, weights: GemmaWeights) throws {
        self.config = config
        self.weights = weights
        let full = Rope(headDim: config.headDim, theta: config.ropeFull.theta, factor: config.ropeFull.factor)
        let sliding = Rope(headDim: config.headDim, theta: config.ropeSliding.theta, factor: config.ropeSliding.factor)
        ropes = config.layerTypes.map { $0 == .slidingAttention ? sliding : full }
        activation = try config.activation()
    }

    public var d: Int { config.hiddenSize }
    public var heads: Int { config.numAttentionHeads }
    public var kvHeads: Int { config.kvHeads }
    public var headDim: Int { config.headDim }
    public var ff: Int { config.intermediateSize }
    public var vocab: Int { config.vocabSize }
    /// Whether any layer's matrices are stored as int8 blocks (then the activation route matters).
    public var hasInt8Weights: Bool {
        weights.layers.contains { layer in layer.matrices.contains { if case .q8 = $0.storage { return true } else { return false } } }
    }

    public func makeCache(sequences: Int, capacity: Int) -> KVCache {
        KVCache(sequences: sequences, layers: config.numHiddenLayers, width: kvHeads * headDim, capacity: capacity)
    }

    /// Checks ids and lengths before any work, so bad input is a one-line error.
    public func validate(tokens: [[Int]], cache: KVCache) throws {
        guard tokens.count == cache.sequences else { throw PrismError("batch has \(tokens.count) sequences, cache \(cache.sequences)") }
        for (s, ids) in tokens.enumerated() {
            if ids.isEmpty && cache.lengths[s] == 0 { throw PrismError("empty prompt: nothing to run") }
            for id in ids where id < 0 || id >= vocab {
                throw PrismError("token id \(id) is outside the vocabulary (0..<\(vocab))")
            }
            let total = cache.lengths[s] + ids.count
            if total > config.maxPositionEmbeddings {
                throw PrismError("sequence of \(total) tokens exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
            }
            if total > cache.capacity { throw PrismError("sequence of \(total) tokens exceeds the cache capacity \(cache.capacity)") }
        }
    }

    /// Runs the new `tokens` of each sequence (appended after what `cache` holds) and returns,
    /// per sequence, the logits of the new-token indices in `logitsAt[s]` (full vocabulary).
    ///
    /// With a recorder, the products the prisms split (W_O and W_down) run on fp32 activations
    /// so that every decomposition closes exactly: at every position, or, when `decomposedAt`
    /// names the one new-token index per sequence that will be decomposed, only there (the
    /// other rows take the int8 route; the prisms of that position read them only through the
    /// recorded keys, values and residual pieces, which are exact records of what was computed).
    /// Without a recorder, `decomposedAt` still makes those rows exact: the logits there are then
    /// the ones a decomposition of that position reports.
    public func forward(
        _ tokens: [[Int]], cache: KVCache, logitsAt: [[Int]], recorder: ActivationRecorder? = nil,
        decomposedAt: [Int]? = nil, options: RunOptions = RunOptions()
    ) throws -> [[[Float]]] {
        try validate(tokens: tokens, cache: cache)
        let pass = Pass(tokens: tokens, cache: cache, recorder: recorder, decomposedAt: decomposedAt, options: options)
        let n = pass.rows

        let x = Buffer(n * d)  // residual stream [N, d]
        let h = Buffer(n * d)  // normed input of a block [N, d]
        defer { x.free(); h.free() }

        embed(tokens, into: x)
        offer(recorder, ActivationName.embed, pass, x, width: d, shape: [d])
        for l in 0..<config.numHiddenLayers {
            let lw = weights.layers[l]
            offer(recorder, ActivationName.residPre(l), pass, x, width: d, shape: [d])
            rmsNorm(x, rows: n, gain: lw.ln1Gain, into: h, recorder: recorder, name: ActivationName.ln1Scale(l), pass)
            attention(layer: l, h, pass, cache: cache, into: x, recorder: recorder)
            offer(recorder, ActivationName.residMid(l), pass, x, width: d, shape: [d])
            rmsNorm(x, rows: n, gain: lw.ln2Gain, into: h, recorder: recorder, name: ActivationName.ln2Scale(l), pass)
            mlp(layer: l, h, pass, into: x, recorder: recorder)
            offer(recorder, ActivationName.residPost(l), pass, x, width: d, shape: [d])
            options.meter?.add(weightBytes: lw.byteCount)
            if options.releasesLayer(l) { lw.release() }
            options.onLayer?(l + 1, config.numHiddenLayers)
        }
        for s in tokens.indices { cache.advance(s, by: tokens[s].count) }
        return unembed(x, pass, logitsAt: logitsAt, recorder: recorder)
    }

    // MARK: - one function per layer kind

    /// One call's batch: where each sequence's rows are in the `[N, ...]` matrices, their
    /// positions, which rows must be exact, and the call's options.
    struct Pass {
        let tokens: [[Int]]
        /// First row of each sequence.
        let rowStart: [Int]
        /// The rows of each sequence.
        let segments: [Range<Int>]
        /// Position of every row in its sequence.
        let positions: [Int]
        /// Rows that must be exact in the products the prisms split: nil means all rows (the
        /// decomposed positions are not known, e.g. an activation store), [] none (no recorder
        /// and no named positions).
        let exactRows: [Int]?
        /// A decoding step: one new token per sequence after a cached prefix.
        let decoding: Bool
        let options: RunOptions
        var rows: Int { segments.last?.upperBound ?? 0 }

        init(tokens: [[Int]], cache: KVCache, recorder: ActivationRecorder?, decomposedAt: [Int]?, options: RunOptions) {
            self.tokens = tokens
            var starts: [Int] = []
            var n = 0
            for ids in tokens { starts.append(n); n += ids.count }
            rowStart = starts
            segments = tokens.indices.map { starts[$0]..<(starts[$0] + tokens[$0].count) }
            positions = tokens.indices.flatMap { s in (0..<tokens[s].count).map { cache.lengths[s] + $0 } }
            // Named positions are exact with or without a recorder (`prism logits` computes its
            // last position as `decompose` does); a recorder without them makes every row exact.
            exactRows =
                decomposedAt.map { at in
                    tokens.indices.compactMap { s in
                        s < at.count && at[s] >= 0 && at[s] < tokens[s].count ? starts[s] + at[s] : nil
                    }
                } ?? (recorder == nil ? [] : nil)
            decoding = tokens.indices.allSatisfy { tokens[$0].count == 1 && cache.lengths[$0] > 0 }
            self.options = options
        }
    }

    /// out[N, w.rows] = x W^T over this pass's rows: each sequence's results do not depend on
    /// the sequences batched with it (see `matmulTransposed(_:segments:...)`).
    func project(_ x: UnsafePointer<Float>, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>, _ pass: Pass, route: ActivationRoute? = nil) {
        matmulTransposed(
            x, segments: pass.segments, w, out, route: route ?? pass.options.route, decoding: pass.decoding, kernel: pass.options.kernel,
            threads: pass.options.threads)
    }

    /// out = x W^T for W_O or W_down: exact (fp32 activations) where the prisms need it.
    func splitProduct(_ x: UnsafeMutablePointer<Float>, width: Int, _ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>, _ pass: Pass) {
        guard let rows = pass.exactRows else {
            project(x, w, out, pass, route: .exact)
            return
        }
        project(x, w, out, pass)
        // Only int8 weights have a route to redo; other storages were exact already. The exact
        // rows (one per prompt of a batch chunk) go through one product, each row summed in the
        // same order however many share it (no BLAS): the weights are read once.
        guard pass.options.route != .exact, case .q8 = w.storage, !rows.isEmpty else { return }
        let m = rows.count, od = w.rows
        let xs = UnsafeMutablePointer<Float>.allocate(capacity: m * width), ys = UnsafeMutablePointer<Float>.allocate(capacity: m * od)
        defer { xs.deallocate(); ys.deallocate() }
        for (i, r) in rows.enumerated() { (xs + i * width).update(from: x + r * width, count: width) }
        Q8Kernels.matmulDequantizing(xs, count: m, w, ys, kernel: pass.options.kernel, threads: pass.options.threads)
        for (i, r) in rows.enumerated() { (out + r * od).update(from: ys + i * od, count: od) }
    }

    /// x[N, d] = E[ids] * sqrt(d)
    func embed(_ tokens: [[Int]], into x: Buffer) {
        let normalizer = Float(Double(d).squareRoot())
        var r = 0
        for ids in tokens {
            for id in ids {
                let row = x.p + r * d
                weights.embedding.dequantize(rows: id..<(id + 1), into: row)
                for i in 0..<d { row[i] *= normalizer }
                r += 1
            }
        }
    }

    /// out[N, d] = x / rms(x) * gain (in place when `out` is `x`); the per-row factors 1/rms
    /// are what the prisms freeze.
    func rmsNorm(_ x: Buffer, rows: Int, gain: [Float], into out: Buffer, recorder: ActivationRecorder?, name: String, _ pass: Pass) {
        let scales = normRows(x.p, rows: rows, width: d, gain: gain, into: out.p)
        scales.withUnsafeBufferPointer { sp in
            offer(recorder, name, pass, Buffer(borrowing: UnsafeMutablePointer(mutating: sp.baseAddress!)), width: 1, shape: [])
        }
    }

    /// Normalizes `rows` rows of `width` values (RMSNorm with gain `1 + w`, eps from the config);
    /// returns each row's `1 / rms`. Gemma 3's q/k norms call it with one row per head.
    func normRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, gain: [Float], into out: UnsafeMutablePointer<Float>) -> [Float] {
        let eps = Float(config.rmsNormEps)
        var scales = [Float](repeating: 0, count: rows)
        gain.withUnsafeBufferPointer { g in
            for r in 0..<rows {
                let s = Ops.rmsScale(x + r * width, count: width, eps: eps)
                scales[r] = s
                Ops.scaleRow(x + r * width, scale: s, gain: g.baseAddress!, count: width, out + r * width)
            }
        }
        return scales
    }

    /// x += a block's output, through its post-norm when the model has one (Gemma 2/3):
    /// `out` becomes the block's write into the residual stream, offered as `outName`.
    func joinResidual(_ out: Buffer, postGain: [Float]?, scaleName: String, outName: String, _ pass: Pass, into x: Buffer, recorder: ActivationRecorder?) {
        let n = pass.rows
        if let postGain { rmsNorm(out, rows: n, gain: postGain, into: out, recorder: recorder, name: scaleName, pass) }
        offer(recorder, outName, pass, out, width: d, shape: [d])
        for i in 0..<(n * d) { x.p[i] += out.p[i] }
    }

    /// x += post_norm(concat_h(softmax(cap(q_h k^T * scale) + mask) v) W_O^T), multi-query / grouped:
    /// head h reads kv group h / (H / kvH). Gemma 3 normalizes q and k per head before RoPE; the
    /// scale is `query_pre_attn_scalar^-0.5`; Gemma 2 soft-caps the scores (`cap(s) = c tanh(s / c)`);
    /// sliding layers see only the last `sliding_window` keys (transformers' `kv_idx > q_idx - window`).
    func attention(layer l: Int, _ h: Buffer, _ pass: Pass, cache: KVCache, into x: Buffer, recorder: ActivationRecorder?) {
        let lw = weights.layers[l]
        let n = pass.rows, tokens = pass.tokens, rowStart = pass.rowStart, positions = pass.positions
        let qw = heads * headDim, kvw = kvHeads * headDim
        let q = Buffer(n * qw), k = Buffer(n * kvw), v = Buffer(n * kvw), z = Buffer(n * qw), out = Buffer(n * d)
        defer { q.free(); k.free(); v.free(); z.free(); out.free() }
        project(h.p, lw.q, q.p, pass)  // [N, H*hd]
        project(h.p, lw.k, k.p, pass)  // [N, kvH*hd]
        project(h.p, lw.v, v.p, pass)  // [N, kvH*hd]
        if let qg = lw.qNormGain, let kg = lw.kNormGain {
            let qs = normRows(q.p, rows: n * heads, width: headDim, gain: qg, into: q.p)  // [N, H]
            let ks = normRows(k.p, rows: n * kvHeads, width: headDim, gain: kg, into: k.p)  // [N, kvH]
            qs.withUnsafeBufferPointer {
                offer(recorder, ActivationName.qNormScale(l), pass, Buffer(borrowing: .init(mutating: $0.baseAddress!)), width: heads, shape: [heads])
            }
            ks.withUnsafeBufferPointer {
                offer(recorder, ActivationName.kNormScale(l), pass, Buffer(borrowing: .init(mutating: $0.baseAddress!)), width: kvHeads, shape: [kvHeads])
            }
        }
        let rope = ropes[l]
        for r in 0..<n {
            rope.apply(q.p + r * qw, heads: heads, position: positions[r])
            rope.apply(k.p + r * kvw, heads: kvHeads, position: positions[r])
        }
        offer(recorder, ActivationName.q(l), pass, q, width: qw, shape: [heads, headDim])
        offer(recorder, ActivationName.k(l), pass, k, width: kvw, shape: [kvHeads, headDim])
        offer(recorder, ActivationName.v(l), pass, v, width: kvw, shape: [kvHeads, headDim])

        let scale = Float(config.attentionScale)
        let cap = config.attnLogitSoftcapping.map { Float($0) }
        let window = config.window(layer: l)
        let group = heads / kvHeads
        let wantPattern = recorder?.wants(ActivationName.pattern(l)) ?? false
        for s in tokens.indices where !tokens[s].isEmpty {
            let t = tokens[s].count, past = cache.lengths[s], total = past + t
            // Append this pass's keys and values to the cache, then attend over all of it.
            cache.keys[s][l].withUnsafeMutableBufferPointer { kc in
                (kc.baseAddress! + past * kvw).update(from: k.p + rowStart[s] * kvw, count: t * kvw)
            }
            cache.values[s][l].withUnsafeMutableBufferPointer { vc in
                (vc.baseAddress! + past * kvw).update(from: v.p + rowStart[s] * kvw, count: t * kvw)
            }
            var pattern = wantPattern ? [Float](repeating: 0, count: heads * t * total) : []
            // Every (query, head) pair is independent: pairs are dealt round-robin to the
            // workers (a causal prompt's later rows see more keys, so contiguous ranges would
            // not balance), each with its own scores row. A pair's arithmetic is the same
            // whichever worker runs it, so results do not depend on the thread count. Small
            // passes (a decoding step) stay on the calling thread.
            let work = t * heads * total * headDim
            let parts = work >= 1 << 21 ? min(t * heads, max(1, pass.options.threads) * 4) : 1
            pattern.withUnsafeMutableBufferPointer { pb in
                cache.keys[s][l].withUnsafeBufferPointer { kc in
                    cache.values[s][l].withUnsafeBufferPointer { vc in
                        let keys = SharedPointer(kc.baseAddress!), values = SharedPointer(vc.baseAddress!)
                        // (An empty array's base address is the shared empty storage: never written.)
                        let queries = SharedPointer(q.p), mixed = SharedPointer(z.p), patternOut = wantPattern ? pb.baseAddress.map(SharedPointer.init) : nil
                        let rowStart = rowStart[s]
                        DispatchQueue.concurrentPerform(iterations: parts) { part in
                            var scores = [Float](repeating: 0, count: total)
                            scores.withUnsafeMutableBufferPointer { sc in
                                for pair in stride(from: part, to: t * heads, by: parts) {
                                    let i = pair / heads, hh = pair % heads
                                    let row = rowStart + i, visible = past + i + 1
                                    // Keys first..<visible: all earlier ones, or the window's on a sliding layer.
                                    let first = window.map { max(0, visible - $0) } ?? 0
                                    let g = hh / group
                                    let qh = queries.p + row * qw + hh * headDim
                                    for j in first..<visible {
                                        sc[j] = Ops.dot(qh, keys.p + j * kvw + g * headDim, count: headDim) * scale
                                    }
                                    if let cap { for j in first..<visible { sc[j] = tanhf(sc[j] / cap) * cap } }
                                    Ops.softmax(sc.baseAddress! + first, count: visible - first)
                                    let zh = mixed.p + row * qw + hh * headDim
                                    zh.update(repeating: 0, count: headDim)
                                    for j in first..<visible {
                                        Ops.axpy(sc[j], values.p + j * kvw + g * headDim, zh, count: headDim)
                                    }
                                    if let patternOut {
                                        let base = (hh * t + i) * total
                                        for j in first..<visible { patternOut.p[base + j] = sc[j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if wantPattern {
                pattern.withUnsafeBufferPointer { recorder?.record(ActivationName.pattern(l), sequence: s, shape: [heads, t, total], values: $0) }
            }
        }
        offer(recorder, ActivationName.z(l), pass, z, width: qw, shape: [heads, headDim])
        splitProduct(z.p, width: qw, lw.o, out.p, pass)  // [N, d]
        joinResidual(
            out, postGain: lw.ln1PostGain, scaleName: ActivationName.ln1PostScale(l), outName: ActivationName.attnOut(l), pass, into: x, recorder: recorder)
    }

    /// x += post_norm(W_down (act(W_gate h) * (W_up h))) (the post-norm on Gemma 2/3 only)
    func mlp(layer l: Int, _ h: Buffer, _ pass: Pass, into x: Buffer, recorder: ActivationRecorder?) {
        let lw = weights.layers[l]
        let n = pass.rows
        let gate = Buffer(n * ff), up = Buffer(n * ff), out = Buffer(n * d)
        defer { gate.free(); up.free(); out.free() }
        project(h.p, lw.gate, gate.p, pass)  // [N, ff]
        project(h.p, lw.up, up.p, pass)  // [N, ff]
        offer(recorder, ActivationName.gate(l), pass, gate, width: ff, shape: [ff])
        switch activation {
        case .geluTanh: Ops.geluTanh(gate.p, count: n * ff, kernel: pass.options.kernel)
        case .geluExact: for i in 0..<(n * ff) { gate.p[i] = Ops.geluExact(gate.p[i]) }
        }
        offer(recorder, ActivationName.gateAct(l), pass, gate, width: ff, shape: [ff])
        offer(recorder, ActivationName.up(l), pass, up, width: ff, shape: [ff])
        for i in 0..<(n * ff) { gate.p[i] *= up.p[i] }  // gate now holds the neuron activations
        offer(recorder, ActivationName.post(l), pass, gate, width: ff, shape: [ff])
        splitProduct(gate.p, width: ff, lw.down, out.p, pass)  // [N, d]
        joinResidual(
            out, postGain: lw.ln2PostGain, scaleName: ActivationName.ln2PostScale(l), outName: ActivationName.mlpOut(l), pass, into: x, recorder: recorder)
    }

    /// logits = (x / rms(x) * gain_final) E^T, only at the requested rows; then, on Gemma 2,
    /// `c * tanh(logits / c)` (final_logit_softcapping), as transformers computes it in fp32.
    func unembed(_ x: Buffer, _ pass: Pass, logitsAt: [[Int]], recorder: ActivationRecorder?) -> [[[Float]]] {
        let n = pass.rows, tokens = pass.tokens, rowStart = pass.rowStart
        let h = Buffer(n * d)
        defer { h.free() }
        rmsNorm(x, rows: n, gain: weights.finalNormGain, into: h, recorder: recorder, name: ActivationName.lnFinalScale, pass)
        var rows: [Int] = []
        var pickedSegments: [Range<Int>] = []  // the picked rows of each sequence
        for s in tokens.indices {
            let first = rows.count
            for i in (s < logitsAt.count ? logitsAt[s] : []) where i >= 0 && i < tokens[s].count { rows.append(rowStart[s] + i) }
            pickedSegments.append(first..<rows.count)
        }
        guard !rows.isEmpty else { return tokens.map { _ in [] } }
        let picked = Buffer(rows.count * d), logits = Buffer(rows.count * vocab)
        defer { picked.free(); logits.free() }
        for (k, r) in rows.enumerated() { (picked.p + k * d).update(from: h.p + r * d, count: d) }
        let e = weights.embedding
        // The unembedding reads few rows against the largest matrix: always the kernel that
        // streams the weights (its per-row sums, like the prompt kernel's, do not depend on
        // how many rows share the product).
        pass.options.meter?.add(weightBytes: e.byteCount)
        if pass.options.streamWeights {
            // Tiles of the unembedding, each released once used: [R, tile] at a time.
            let tile = 8192
            let part = Buffer(rows.count * tile)
            defer { part.free() }
            var r0 = 0
            while r0 < vocab {
                let r1 = min(vocab, r0 + tile)
                let slice = WeightMatrix(sliceOf: e, rows: r0..<r1)
                matmulTransposed(
                    picked.p, segments: pickedSegments, slice, part.p, route: pass.options.route, decoding: true, kernel: pass.options.kernel,
                    threads: pass.options.threads)
                for k in 0..<rows.count { (logits.p + k * vocab + r0).update(from: part.p + k * (r1 - r0), count: r1 - r0) }
                e.release(rows: r0..<r1)
                r0 = r1
            }
        } else {
            matmulTransposed(
                picked.p, segments: pickedSegments, e, logits.p, route: pass.options.route, decoding: true, kernel: pass.options.kernel,
                threads: pass.options.threads)  // [R, vocab]
        }
        if let c = config.finalLogitSoftcapping.map({ Float($0) }) {
            for i in 0..<(rows.count * vocab) { logits.p[i] = tanhf(logits.p[i] / c) * c }
        }
        var result: [[[Float]]] = []
        var k = 0
        for s in tokens.indices {
            var perSeq: [[Float]] = []
            for i in (s < logitsAt.count ? logitsAt[s] : []) where i >= 0 && i < tokens[s].count {
                perSeq.append(Array(UnsafeBufferPointer(start: logits.p + k * vocab, count: vocab)))
                k += 1
            }
            result.append(perSeq)
        }
        return result
    }

    /// Hands the rows of each sequence to the recorder as `[T] + shape`.
    func offer(_ recorder: ActivationRecorder?, _ name: String, _ pass: Pass, _ b: Buffer, width: Int, shape: [Int]) {
        guard let recorder, recorder.wants(name) else { return }
        for (s, rows) in pass.segments.enumerated() {
            recorder.record(
                name, sequence: s, shape: [rows.count] + shape, values: UnsafeBufferPointer(start: b.p + rows.lowerBound * width, count: rows.count * width))
        }
    }
}

/// A manually managed fp32 scratch buffer: the forward pass's intermediates, freed by the
/// function that made them (Swift arrays would add copy-on-write checks in the hot loops).
struct Buffer {
    let p: UnsafeMutablePointer<Float>
    private let owned: Bool
    init(_ count: Int) {
        p = .allocate(capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
        owned = true
    }
    init(borrowing p: UnsafeMutablePointer<Float>) { self.p = p; owned = false }
    func free() { if owned { p.deallocate() } }
}

extension GemmaModel {
    /// Runs one prompt and keeps the activations the prisms read. Returns them as a source,
    /// with the logits of the last position.
    /// `decomposedAtLast`: only the last position will be decomposed (see `forward`); false keeps
    /// every position exact, for paths and lenses at any position.
    public func record(
        _ ids: [Int], names: Set<String>? = nil, decomposedAtLast: Bool = false,
        options: RunOptions = RunOptions()
    ) throws -> (source: ActivationSource, lastLogits: [Float]) {
        let wanted = names ?? PrismActivations.needed(layers: config.numHiddenLayers)
        let recorder = MemoryRecorder { wanted.contains($0) }
        let logits = try forward(
            [ids], cache: makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]], recorder: recorder,
            decomposedAt: decomposedAtLast ? [ids.count - 1] : nil, options: options)
        return (recorder.source(sequence: 0, ids: ids), logits[0].first ?? [])
    }

    /// Runs one prompt keeping only what decomposing its last position needs (that position's
    /// rows, its attention rows, the values it reads): what `prism decompose` reads, at a
    /// fraction of the copying and memory of `record`.
    public func recordLastPosition(_ ids: [Int], options: RunOptions = RunOptions()) throws -> (source: ActivationSource, lastLogits: [Float]) {
        guard !ids.isEmpty else { throw PrismError("empty prompt: nothing to run") }
        let recorder = PositionRecorder(ids: [ids], positions: [ids.count - 1], layers: config.numHiddenLayers)
        let logits = try forward(
            [ids], cache: makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]], recorder: recorder,
            decomposedAt: [ids.count - 1], options: options)
        return (recorder.source(sequence: 0), logits[0].first ?? [])
    }
}

import Foundation
import PrismKernels
import PrismModel
import PrismSupport

/// The logit lens: the residual stream at each point (the embedding, then after every attention
/// and MLP block) read through the final norm and the unembedding. Two norm modes, always
/// labelled: each point's own `1/rms` (the classic lens) or the position's frozen final scale,
/// which makes the lens additive and consistent with the residual prism.
///
/// Each distinct vector is one point: `blocks.{l+1}.resid_pre` is `blocks.{l}.resid_post`, so
/// the points are `blocks.0.resid_pre` (the scaled embedding), then `blocks.{l}.resid_mid` and
/// `blocks.{l}.resid_post` per layer: `1 + 2 L` of them.
public struct LogitLens {
    public enum NormMode: String, Sendable, CaseIterable {
        case own, frozen
    }

    /// One token of a target read at a point: its probability under the softmax over the whole
    /// vocabulary at that point (through the soft-cap when the lens applies it), and its rank.
    public struct TokenReading: Sendable {
        public var id: Int
        /// `exp(z_id - logsumexp(z))`, z the point's logits over the full vocabulary; NaN when
        /// a logit is NaN.
        public var probability: Double
        /// 1 + how many other tokens have a larger logit at this point; nil when the token's
        /// logit is NaN. Ties share the better rank (as `LogitRanks`).
        public var rank: Int?
    }

    public struct Point: Sendable {
        /// The activation read: `blocks.0.resid_pre`, `blocks.{l}.resid_mid`, `blocks.{l}.resid_post`.
        public var name: String
        /// The last write the point includes: `embed`, `blocks.{l}.attn` or `blocks.{l}.mlp`.
        public var after: String
        /// The prompt position read.
        public var position: Int
        /// Each target's logit at this point (a difference: the difference of its tokens' logits).
        public var targets: [Double]
        /// Per target, each of its tokens' probability and rank (one for a token, two for a difference).
        public var readings: [[TokenReading]]
        /// The top tokens at this point, `(id, logit)`, largest first.
        public var top: [(id: Int, logit: Float)]
        /// `logsumexp` of the point's logits over the vocabulary (the softmax's normalizer).
        public var logSumExp: Double
    }

    public let prism: Prism

    public init(prism: Prism) { self.prism = prism }

    /// The distinct points of one position, in order: `1 + 2 * layers` names.
    public static func pointNames(layers: Int) -> [String] {
        [ActivationName.residPre(0)] + (0..<layers).flatMap { [ActivationName.residMid($0), ActivationName.residPost($0)] }
    }

    /// What each point of `pointNames` adds last: `embed`, then `blocks.{l}.attn`, `blocks.{l}.mlp`.
    public static func pointAfter(layers: Int) -> [String] {
        ["embed"] + (0..<layers).flatMap { ["blocks.\($0).attn", "blocks.\($0).mlp"] }
    }

    /// The lens at one position (see `run(_:positions:...)`).
    public func run(
        _ source: ActivationSource, position: Int, targets: [Target], mode: NormMode, top k: Int,
        streamWeights: Bool = false, softcap: Bool = false
    ) throws -> [Point] {
        let p = try Prism.resolve(position: position, count: source.tokenIds.count)
        return try run(source, positions: [p], targets: targets, mode: mode, top: k, streamWeights: streamWeights, softcap: softcap)[0]
    }

    /// The lens at each of `positions`: `[positions.count][1 + 2L]` points. The vocabulary is
    /// read once for all of them, a tile at a time (`tileRows(points:)`).
    /// - Parameters:
    ///   - mode: `.frozen` scales each position's points by that position's final `1/rms`
    ///     (`ln_final.scale`), so its last point is the model's logit at that position.
    ///   - streamWeights: give the unembedding's pages back tile by tile (the run's memory plan
    ///     streams weights).
    ///   - softcap: on a model with `final_logit_softcapping` (Gemma 2), read each token's logit
    ///     through `c tanh(z / c)` as the model's output does (probabilities too); false shows z.
    /// - Throws: `PrismError` for a position outside the prompt or a target id outside the vocabulary.
    public func run(
        _ source: ActivationSource, positions: [Int], targets: [Target], mode: NormMode, top k: Int,
        streamWeights: Bool = false, softcap: Bool = false
    ) throws -> [[Point]] {
        let model = prism.model
        let d = model.d, V = model.vocab
        let L = model.config.numHiddenLayers
        let names = Self.pointNames(layers: L), after = Self.pointAfter(layers: L)
        let P = names.count
        for q in positions { _ = try Prism.resolve(position: q, count: source.tokenIds.count) }
        for t in targets {
            for id in t.ids where id < 0 || id >= V { throw PrismError("target id \(id) is outside the vocabulary (0..<\(V))") }
        }
        let eps = Float(model.config.rmsNormEps)
        // Normed points [N * P, d]: x * scale * (1 + w_final), scale per mode.
        var normed = [Float](repeating: 0, count: positions.count * P * d)
        for (n, q) in positions.enumerated() {
            let finalScale = try source.row(ActivationName.lnFinalScale, q).first ?? 0
            for (i, name) in names.enumerated() {
                let x = Array(try source.row(name, q))
                guard x.count == d else { throw PrismError("activation \(name) has \(x.count) values per position, not \(d)") }
                let scale = mode == .frozen ? finalScale : x.withUnsafeBufferPointer { Ops.rmsScale($0.baseAddress!, count: d, eps: eps) }
                let base = (n * P + i) * d
                for e in 0..<d { normed[base + e] = x[e] * scale * model.weights.finalNormGain[e] }
            }
        }
        let cap = softcap ? model.config.finalLogitSoftcapping : nil
        func capped(_ z: Double) -> Double { cap.map { $0 * tanh(z / $0) } ?? z }
        // Each target token's logit at every point, from its unembedding row in double (a
        // difference target is linear too).
        let watched = Array(Set(targets.flatMap(\.ids))).sorted()
        var rows: [Int: [Float]] = [:]
        for id in watched {
            var e = [Float](repeating: 0, count: d)
            e.withUnsafeMutableBufferPointer { model.weights.embedding.dequantize(rows: id..<(id + 1), into: $0.baseAddress!) }
            rows[id] = e
        }
        let count = positions.count * P
        var watchedLogits = [Double](repeating: 0, count: count * watched.count)  // z, before any cap
        for i in 0..<count {
            let row = normed[(i * d)..<((i + 1) * d)]
            for (w, id) in watched.enumerated() { watchedLogits[i * watched.count + w] = dotD(rows[id]![...], row) }
        }
        let readout = readout(
            normed, points: count, k: k, watched: watched, watchedLogits: watchedLogits, cap: cap,
            tileRows: Self.tileRows(points: count), streamWeights: streamWeights)
        let slot = Dictionary(uniqueKeysWithValues: watched.enumerated().map { ($1, $0) })
        return positions.enumerated().map { n, q in
            (0..<P).map { i in
                let g = n * P + i
                let lse = readout.logSumExp[g]
                func logit(_ id: Int) -> Double { capped(watchedLogits[g * watched.count + slot[id]!]) }
                let values = targets.map { t in t.terms.reduce(0.0) { $0 + Double($1.coef) * logit($1.id) } }
                let readings = targets.map { t in
                    t.ids.map { id in
                        TokenReading(id: id, probability: exp(logit(id) - lse), rank: readout.ranks[g * watched.count + slot[id]!])
                    }
                }
                return Point(name: names[i], after: after[i], position: q, targets: values, readings: readings, top: readout.top[g], logSumExp: lse)
            }
        }
    }
}

extension LogitLens {
    /// Vocabulary rows read out per tile at most: the lens never holds `[points, vocab]` logits
    /// (37 x 256k floats per position on gemma-2b), only `[points, tile]`, and under a memory
    /// budget each tile's unembedding pages are given back once read, as the forward pass's own
    /// unembedding does.
    public static let tileRows = 8192

    /// The most bytes one tile of logits `[points, tile]` takes when many points are read
    /// (`--all-positions`): the tile then narrows, so the readout stays within its plan.
    public static let tileBytes = 64 << 20

    /// Rows per tile for `points` points: `tileRows`, narrowed so a tile's logits fit `tileBytes`.
    public static func tileRows(points: Int) -> Int {
        max(1, min(tileRows, tileBytes / (4 * max(1, points))))
    }

    /// Bytes the readout allocates beyond the recorded activations, for the memory plan, when
    /// `positions` positions are read with `targets` target tokens and the `top` best tokens
    /// each: the normed points `[N P, d]`, one tile of logits `[N P, tile]`, each point's
    /// normalizer, the targets' logits and ranks `[N P, targets]` and the top lists `[N P, top]`
    /// (P = 1 + 2 x layers; the product's own dequantization tile is in the plan's fixed part).
    public static func readoutBytes(_ c: GemmaConfig, positions: Int = 1, targets: Int = 0, top: Int = 5) -> Int {
        let points = (1 + 2 * c.numHiddenLayers) * max(1, positions)
        let tile = min(c.vocabSize, tileRows(points: points))
        return 4 * (points * c.hiddenSize + points * tile) + points * (16 + 24 * targets + 32 * max(0, top))
    }

    /// What one pass over the vocabulary gives per point: the top tokens, the softmax's normalizer
    /// and each watched token's rank.
    public struct Readout {
        public var top: [[(id: Int, logit: Float)]]
        /// `logsumexp` over the vocabulary of each point's (capped) logits; NaN if one is NaN.
        public var logSumExp: [Double]
        /// `[points, watched]`: 1 + how many other tokens beat the watched token's logit; nil for a NaN logit.
        public var ranks: [Int?]
    }

    /// The `k` largest logits `normed E^T` of every normed point (`normed` is `[points, d]`),
    /// `tileRows` vocabulary rows at a time: per point the best of each tile are merged into the
    /// best so far (ties to the lower id, as `TopK.largest` over the whole row gives).
    public func readoutTop(
        _ normed: [Float], points: Int, k: Int, tileRows: Int = LogitLens.tileRows,
        streamWeights: Bool = false
    ) -> [[(id: Int, logit: Float)]] {
        readout(normed, points: points, k: k, watched: [], watchedLogits: [], cap: nil, tileRows: tileRows, streamWeights: streamWeights).top
    }

    /// One pass over the vocabulary for every point, `tileRows` rows at a time.
    /// - Parameters:
    ///   - watched: token ids whose rank is counted; `watchedLogits` `[points, watched]` their
    ///     pre-cap logits z (the rank is the same before and after the monotonic cap).
    ///   - cap: the soft-cap `c` applied to the returned top logits and inside the normalizer.
    public func readout(
        _ normed: [Float], points: Int, k: Int, watched: [Int], watchedLogits: [Double], cap: Double?,
        tileRows: Int = LogitLens.tileRows, streamWeights: Bool = false
    ) -> Readout {
        let model = prism.model, V = model.vocab, e = model.weights.embedding
        let tile = max(1, min(V, tileRows)), W = watched.count
        var best = [[(id: Int, logit: Float)]](repeating: [], count: points)
        var runMax = [Float](repeating: -.infinity, count: points)
        var runSum = [Double](repeating: 0, count: points)
        var sawNaN = [Bool](repeating: false, count: points)
        var beaten = [Int](repeating: 0, count: points * W)
        let z = watchedLogits.map { Float($0) }
        var part = [Float](repeating: 0, count: points * tile)
        let c = cap.map(Float.init)
        var r0 = 0
        while r0 < V {
            let r1 = min(V, r0 + tile), n = r1 - r0
            let slice = WeightMatrix(sliceOf: e, rows: r0..<r1)
            normed.withUnsafeBufferPointer { np in
                part.withUnsafeMutableBufferPointer { matmulTransposed(np.baseAddress!, count: points, slice, $0.baseAddress!) }  // [P, n]
            }
            for i in 0..<points {
                let row = part[(i * n)..<(i * n + n)]
                if k > 0 {
                    let local = TopK.largest(row, k: k).map { (id: $0.id + r0, logit: $0.logit) }
                    best[i] = Array((best[i] + local).sorted { $0.logit != $1.logit ? $0.logit > $1.logit : $0.id < $1.id }.prefix(k))
                }
                part.withUnsafeBufferPointer { all in
                    let row = UnsafeBufferPointer(rebasing: all[(i * n)..<(i * n + n)])
                    mergeNormalizer(row, cap: c, max: &runMax[i], sum: &runSum[i], sawNaN: &sawNaN[i])
                    for w in 0..<W {
                        let v = z[i * W + w]
                        if v.isNaN { continue }
                        var above = 0
                        for x in row where x > v { above += 1 }
                        // The token itself never counts against itself (its tile value may round above v).
                        if (r0..<r1).contains(watched[w]), row[watched[w] - r0] > v { above -= 1 }
                        beaten[i * W + w] += above
                    }
                }
            }
            if streamWeights { e.release(rows: r0..<r1) }
            r0 = r1
        }
        if let c { best = best.map { $0.map { (id: $0.id, logit: tanhf($0.logit / c) * c) } } }
        let lse = (0..<points).map { i in sawNaN[i] ? Double.nan : Double(runMax[i]) + log(runSum[i]) }
        let ranks: [Int?] = (0..<(points * W)).map { z[$0].isNaN ? nil : 1 + beaten[$0] }
        return Readout(top: best, logSumExp: lse, ranks: ranks)
    }

    /// Merges one tile of a point's logits into its running `logsumexp`: `sum exp(v - max)`,
    /// rescaled when the max grows; values through the soft-cap `c tanh(v / c)` when `cap` is set.
    /// A NaN value is skipped and noted (the normalizer is then NaN).
    func mergeNormalizer(_ row: UnsafeBufferPointer<Float>, cap: Float?, max runMax: inout Float, sum runSum: inout Double, sawNaN: inout Bool) {
        var tileMax = -Float.infinity
        for v in row {
            if v.isNaN { sawNaN = true } else if v > tileMax { tileMax = v }
        }
        if let cap, tileMax > -.infinity { tileMax = tanhf(tileMax / cap) * cap }
        let m = Swift.max(runMax, tileMax)
        guard m > -.infinity else { return }
        var s: Float = 0, total = 0.0
        // Float sums of at most 1024 terms, each at most 1, carried in double.
        for (j, v) in row.enumerated() where !v.isNaN {
            s += expf((cap.map { tanhf(v / $0) * $0 } ?? v) - m)
            if j & 1023 == 1023 { total += Double(s); s = 0 }
        }
        total += Double(s)
        runSum = runSum * Double(expf(runMax - m)) + total
        runMax = m
    }
}

/// The k largest values of a slice, largest first (ties by lower index), indices relative to the slice start.
public enum TopK {
    /// How many of `values` are NaN (they are never ranked by `largest`).
    public static func nanCount(_ values: ArraySlice<Float>) -> Int {
        values.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
    }

    /// The k largest non-NaN values (fewer when there are not k of them).
    public static func largest(_ values: ArraySlice<Float>, k: Int) -> [(id: Int, logit: Float)] {
        let k = min(k, values.count)
        guard k > 0 else { return [] }
        // A min-heap of the best k seen, so a 256k vocabulary costs O(V log k).
        var heap: [(Float, Int)] = []
        heap.reserveCapacity(k)
        func less(_ a: (Float, Int), _ b: (Float, Int)) -> Bool { a.0 != b.0 ? a.0 < b.0 : a.1 > b.1 }
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, less(heap[l], heap[m]) { m = l }
                if r < heap.count, less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        func siftUp(_ i0: Int) {
            var i = i0
            while i > 0 {
                let parent = (i - 1) / 2
                if less(heap[i], heap[parent]) { heap.swapAt(i, parent); i = parent } else { return }
            }
        }
        let base = values.startIndex
        for (offset, v) in values.enumerated() {
            // NaN has no rank: it is left out (not shown as -inf); callers count it (`nanCount`).
            if v.isNaN { continue }
            let e = (v, base + offset - base)
            if heap.count < k {
                heap.append(e)
                siftUp(heap.count - 1)
            } else if less(heap[0], e) {
                heap[0] = e
                siftDown(0)
            }
        }
        return heap.sorted { less($1, $0) }.map { (id: $0.1, logit: $0.0) }
    }

    public static func largest(_ values: [Float], k: Int) -> [(id: Int, logit: Float)] { largest(values[...], k: k) }
}

import Foundation
import PrismKernels
import PrismModel
import PrismSupport

/// The logit lens: the residual stream at each point (before and after every attention and
/// MLP block) read through the final norm and the unembedding. Two norm modes, always
/// labelled: each point's own `1/rms` (the classic lens) or the final position's frozen
/// scale, which makes the lens additive and consistent with the residual prism.
public struct LogitLens {
    public enum NormMode: String, Sendable, CaseIterable {
        case own, frozen
    }

    public struct Point: Sendable {
        /// `blocks.{l}.resid_pre`, `blocks.{l}.resid_mid`, `blocks.{l}.resid_post`.
        public var name: String
        /// Each target's logit at this point.
        public var targets: [Double]
        /// The top tokens at this point, `(id, logit)`, largest first.
        public var top: [(id: Int, logit: Float)]
    }

    public let prism: Prism

    public init(prism: Prism) { self.prism = prism }

    public static func pointNames(layers: Int) -> [String] {
        (0..<layers).flatMap { [ActivationName.residPre($0), ActivationName.residMid($0), ActivationName.residPost($0)] }
    }

    /// - Parameters:
    ///   - streamWeights: give the unembedding's pages back tile by tile (the run's memory plan
    ///     streams weights).
    ///   - softcap: on a model with `final_logit_softcapping` (Gemma 2), read each token's logit
    ///     through `c tanh(z / c)` as the model's output does; false shows z (label it).
    public func run(
        _ source: ActivationSource, position: Int, targets: [Target], mode: NormMode, top k: Int,
        streamWeights: Bool = false, softcap: Bool = false
    ) throws -> [Point] {
        let model = prism.model
        let p = try Prism.resolve(position: position, count: source.tokenIds.count)
        let d = model.d, V = model.vocab
        let names = Self.pointNames(layers: model.config.numHiddenLayers)
        let finalScale = try source.row(ActivationName.lnFinalScale, p).first ?? 0
        let eps = Float(model.config.rmsNormEps)
        // Normed points [P, d]: x * scale * (1 + w_final), scale per mode.
        var normed = [Float](repeating: 0, count: names.count * d)
        for (i, name) in names.enumerated() {
            let x = Array(try source.row(name, p))
            let scale = mode == .frozen ? finalScale : x.withUnsafeBufferPointer { Ops.rmsScale($0.baseAddress!, count: d, eps: eps) }
            for e in 0..<d { normed[i * d + e] = x[e] * scale * model.weights.finalNormGain[e] }
        }
        let cap = softcap ? model.config.finalLogitSoftcapping : nil
        func capped(_ z: Double) -> Double { cap.map { $0 * tanh(z / $0) } ?? z }
        var top = k > 0 ? readoutTop(normed, points: names.count, k: k, streamWeights: streamWeights) : Array(repeating: [], count: names.count)
        if let cap {
            let c = Float(cap)
            top = top.map { $0.map { (id: $0.id, logit: tanhf($0.logit / c) * c) } }
        }
        // Target logits via the embedding rows (a difference target is linear too).
        var rows: [Int: [Float]] = [:]
        for t in targets {
            for id in t.ids where rows[id] == nil {
                guard id >= 0, id < V else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(V))") }
                var e = [Float](repeating: 0, count: d)
                e.withUnsafeMutableBufferPointer { model.weights.embedding.dequantize(rows: id..<(id + 1), into: $0.baseAddress!) }
                rows[id] = e
            }
        }
        return names.enumerated().map { i, name in
            let row = normed[(i * d)..<((i + 1) * d)]
            let values = targets.map { t in t.terms.reduce(0.0) { $0 + Double($1.coef) * capped(dotD(rows[$1.id]![...], row)) } }
            return Point(name: name, targets: values, top: top[i])
        }
    }
}

extension LogitLens {
    /// Vocabulary rows read out per tile: the lens never holds `[points, vocab]` logits (54 x 256k
    /// floats on gemma-2b), only `[points, tileRows]`, and under a memory budget each tile's
    /// unembedding pages are given back once read, as the forward pass's own unembedding does.
    public static let tileRows = 8192

    /// Bytes the readout allocates beyond the recorded activations, for the memory plan: the
    /// normed points `[P, d]` and one tile of logits `[P, tileRows]` (P = 3 x layers; the
    /// product's own dequantization tile is in the plan's fixed part).
    public static func readoutBytes(_ c: GemmaConfig) -> Int {
        let points = 3 * c.numHiddenLayers, tile = min(c.vocabSize, tileRows)
        return 4 * (points * c.hiddenSize + points * tile)
    }

    /// The `k` largest logits `normed E^T` of every normed point (`normed` is `[points, d]`),
    /// `tileRows` vocabulary rows at a time: per point the best of each tile are merged into the
    /// best so far (ties to the lower id, as `TopK.largest` over the whole row gives).
    public func readoutTop(
        _ normed: [Float], points: Int, k: Int, tileRows: Int = LogitLens.tileRows,
        streamWeights: Bool = false
    ) -> [[(id: Int, logit: Float)]] {
        let model = prism.model, V = model.vocab, e = model.weights.embedding
        let tile = max(1, min(V, tileRows))
        var best = [[(id: Int, logit: Float)]](repeating: [], count: points)
        var part = [Float](repeating: 0, count: points * tile)
        var r0 = 0
        while r0 < V {
            let r1 = min(V, r0 + tile), n = r1 - r0
            let slice = WeightMatrix(sliceOf: e, rows: r0..<r1)
            normed.withUnsafeBufferPointer { np in
                part.withUnsafeMutableBufferPointer { matmulTransposed(np.baseAddress!, count: points, slice, $0.baseAddress!) }  // [P, n]
            }
            for i in 0..<points {
                let local = TopK.largest(part[(i * n)..<(i * n + n)], k: k).map { (id: $0.id + r0, logit: $0.logit) }
                best[i] = Array((best[i] + local).sorted { $0.logit != $1.logit ? $0.logit > $1.logit : $0.id < $1.id }.prefix(k))
            }
            if streamWeights { e.release(rows: r0..<r1) }
            r0 = r1
        }
        return best
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

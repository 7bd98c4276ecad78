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

    public func run(_ source: ActivationSource, position: Int, targets: [Target], mode: NormMode, top k: Int) throws -> [Point] {
        let model = prism.model
        let p = try Prism.resolve(position: position, count: source.tokenIds.count)
        let d = model.d, V = model.vocab
        let names = Self.pointNames(layers: model.config.num_hidden_layers)
        let finalScale = try source.row(ActivationName.lnFinalScale, p).first ?? 0
        let eps = Float(model.config.rms_norm_eps)
        // Normed points [P, d]: x * scale * (1 + w_final), scale per mode.
        var normed = [Float](repeating: 0, count: names.count * d)
        for (i, name) in names.enumerated() {
            let x = Array(try source.row(name, p))
            let scale = mode == .frozen ? finalScale : x.withUnsafeBufferPointer { Ops.rmsScale($0.baseAddress!, count: d, eps: eps) }
            for e in 0..<d { normed[i * d + e] = x[e] * scale * model.weights.finalNormGain[e] }
        }
        var logits = [Float](repeating: 0, count: k > 0 ? names.count * V : 0)
        if k > 0 {
            normed.withUnsafeBufferPointer { n in
                logits.withUnsafeMutableBufferPointer { matmulTransposed(n.baseAddress!, count: names.count, model.weights.embedding, $0.baseAddress!) }
            }
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
            let values = targets.map { t in t.terms.reduce(0.0) { $0 + Double($1.coef) * dotD(rows[$1.id]![...], row) } }
            let top = k > 0 ? TopK.largest(logits[(i * V)..<((i + 1) * V)], k: k) : []
            return Point(name: name, targets: values, top: top)
        }
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

import Foundation
import PrismKernels
import PrismModel
import PrismSupport
import Prisms

/// The logit lens at every position of a prompt, in both norm modes at once, with each target's
/// logit and rank per cell: what the explorer's token-position x layer heatmap shows.
///
/// The points are the residual stream between blocks: `blocks.0.resid_pre` (the embedding) and
/// `blocks.{l}.resid_post` for every layer (`resid_pre` of layer l+1 is the same vector, so it is
/// not repeated). Each cell is the same readout as `LogitLens.run` at that position and point:
/// `own` scales by the point's own `1/rms`, `frozen` by the position's final-norm `1/rms`.
/// The two modes differ by one positive factor per cell, so the top tokens and every rank are
/// the same in both; one readout over the vocabulary serves both (half of two `LogitLens` runs).
public struct LensGrid: Sendable {
    /// One (position, point) of the lens.
    public struct Cell: Sendable {
        /// The top tokens, largest first (the same in both modes).
        public var topIds: [Int]
        /// Their logits with each point's own `1/rms` and with the final norm's frozen `1/rms`.
        public var topOwn: [Float]
        public var topFrozen: [Float]
        /// Per target: its logit (`sum coef * logit(id)`) in each mode.
        public var targetOwn: [Double]
        public var targetFrozen: [Double]
        /// Per target, per target token: its rank in the full vocabulary at this cell (1 = top).
        public var targetRanks: [[Int]]
    }

    /// Point names, in stream order: `blocks.0.resid_pre`, `blocks.0.resid_post`, ...
    public var points: [String]
    /// Positions 0..<positions.
    public var positions: Int
    /// `[positions][points]`
    public var cells: [[Cell]]

    /// The points the grid reads for a model of `layers` layers.
    public static func pointNames(layers: Int) -> [String] {
        [ActivationName.residPre(0)] + (0..<layers).map { ActivationName.residPost($0) }
    }

    /// Bytes the readout allocates: the normed rows `[positions x points, d]` and one tile of
    /// logits `[positions x points, tileRows]`, for the memory plan.
    public static func readoutBytes(_ c: GemmaConfig, positions: Int) -> Int {
        let rows = positions * (c.numHiddenLayers + 1)
        return 4 * rows * (c.hiddenSize + min(c.vocabSize, LogitLens.tileRows))
    }

    /// Reads the lens at positions `0..<positions` of `source`.
    /// - Parameters:
    ///   - top: top tokens kept per cell.
    ///   - softcap: read logits through the model's `c tanh(z/c)` (Gemma 2) as it outputs them.
    ///   - streamWeights: give the unembedding's pages back tile by tile (a streaming plan).
    /// - Throws: `PrismError` when an activation is missing or a target id is outside the vocabulary.
    public static func read(
        _ model: GemmaModel, source: ActivationSource, positions: Int, targets: [Target], top: Int = 3,
        softcap: Bool = true, streamWeights: Bool = false
    ) throws -> LensGrid {
        let d = model.d, V = model.vocab
        let names = pointNames(layers: model.config.numHiddenLayers)
        let n = positions * names.count
        let eps = Float(model.config.rmsNormEps)
        let gain = model.weights.finalNormGain
        // Rows x * (1 + w_final) without any 1/rms: each mode's scale is applied afterwards.
        var raw = [Float](repeating: 0, count: n * d)
        var ownScale = [Float](repeating: 0, count: n), frozenScale = [Float](repeating: 0, count: n)
        for q in 0..<positions {
            let finalScale = try source.row(ActivationName.lnFinalScale, q).first ?? 0
            for (i, name) in names.enumerated() {
                let x = Array(try source.row(name, q))
                guard x.count == d else { throw PrismError("activation \(name) has \(x.count) values per position, not \(d)") }
                let r = q * names.count + i
                ownScale[r] = x.withUnsafeBufferPointer { Ops.rmsScale($0.baseAddress!, count: d, eps: eps) }
                frozenScale[r] = finalScale
                for e in 0..<d { raw[r * d + e] = x[e] * gain[e] }
            }
        }
        // Every target token's raw logit per row, from its embedding row.
        let tokenIds = Array(Set(targets.flatMap(\.ids))).sorted()
        var tokenRaw: [Int: [Double]] = [:]
        var row = [Float](repeating: 0, count: d)
        for id in tokenIds {
            guard id >= 0, id < V else { throw PrismError("target id \(id) is outside the vocabulary (0..<\(V))") }
            row.withUnsafeMutableBufferPointer { model.weights.embedding.dequantize(rows: id..<(id + 1), into: $0.baseAddress!) }
            tokenRaw[id] = (0..<n).map { r in dot(row, raw, offset: r * d, count: d) }
        }
        let (best, above) = readout(model, raw, rows: n, k: top, tokenRaw: tokenRaw, streamWeights: streamWeights)
        let cap = softcap ? model.config.finalLogitSoftcapping : nil
        func capped(_ z: Double) -> Double { cap.map { $0 * tanh(z / $0) } ?? z }
        var cells: [[Cell]] = []
        for q in 0..<positions {
            var rowCells: [Cell] = []
            for i in names.indices {
                let r = q * names.count + i
                let so = Double(ownScale[r]), sf = Double(frozenScale[r])
                func value(_ t: Target, _ s: Double) -> Double {
                    t.terms.reduce(0.0) { $0 + Double($1.coef) * capped((tokenRaw[$1.id]?[r] ?? .nan) * s) }
                }
                rowCells.append(
                    Cell(
                        topIds: best[r].map(\.id),
                        topOwn: best[r].map { Float(capped(Double($0.logit) * so)) },
                        topFrozen: best[r].map { Float(capped(Double($0.logit) * sf)) },
                        targetOwn: targets.map { value($0, so) },
                        targetFrozen: targets.map { value($0, sf) },
                        targetRanks: targets.map { t in t.ids.map { 1 + (above[$0]?[r] ?? 0) } }))
            }
            cells.append(rowCells)
        }
        return LensGrid(points: names, positions: positions, cells: cells)
    }

    /// The `k` largest raw logits of every row and, per target token, how many other tokens'
    /// raw logits exceed its own in each row: the logit lens's own pass over the unembedding
    /// (`LogitLens.readout`, `tileRows` rows at a time, so `[rows, vocab]` logits are never held).
    static func readout(
        _ model: GemmaModel, _ raw: [Float], rows n: Int, k: Int, tokenRaw: [Int: [Double]], streamWeights: Bool
    ) -> (best: [[(id: Int, logit: Float)]], above: [Int: [Int]]) {
        let watched = tokenRaw.keys.sorted(), W = watched.count
        var logits = [Double](repeating: .nan, count: n * W)
        for (w, id) in watched.enumerated() { for r in 0..<n { logits[r * W + w] = tokenRaw[id]?[r] ?? .nan } }
        let lens = LogitLens(prism: Prism(model: model, pullBacks: ReadoutPullBacks(config: model.config, capacityBytes: 0)))
        let result = lens.readout(raw, points: n, k: k, watched: watched, watchedLogits: logits, cap: nil, streamWeights: streamWeights)
        var above: [Int: [Int]] = [:]
        for (w, id) in watched.enumerated() { above[id] = (0..<n).map { r in (result.ranks[r * W + w] ?? 1) - 1 } }
        return (result.top, above)
    }

    static func dot(_ a: [Float], _ b: [Float], offset: Int, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(a[i]) * Double(b[offset + i]) }
        return s
    }
}

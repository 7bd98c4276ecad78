import Foundation
import PrismModel
import PrismPlots
import PrismSupport
import Prisms

/// The logit lens of a study's main prompt, at every position, for one token (the right
/// answer): read from the activations the study already recorded for its decomposition (the
/// whole prompt is recorded), so it costs no forward pass, only one read of the unembedding.
public struct StudyLens {
    /// The token read and its text (as the report shows tokens, "▁" as a space).
    public var tokenId: Int
    public var token: String
    /// The lens points, `1 + 2 x layers`: `blocks.0.resid_pre`, then `blocks.{l}.resid_mid` and
    /// `blocks.{l}.resid_post` per layer, and their short labels as the residual prism writes
    /// the write each one adds last (Embed, a0, m0, ...).
    public var points: [String]
    public var labels: [String]
    /// `logits[position][point]`: the token's logit at that point, own-norm lens (each point
    /// read through its own final-norm 1/rms), through the soft-cap where the model has one.
    public var logits: [[Double]]
    /// `ranks[point]` at the last position (the one the answer is read from): 1 + how many
    /// tokens have a larger logit there; nil for a NaN logit. Only that row is ranked: ranking
    /// reads the whole unembedding per point, and every position would cost the study several
    /// forward passes on a real Gemma.
    public var lastRanks: [Int?]

    /// The first point of the last position where the token is the top-1, nil where it never is.
    public var firstTop: Int? { lastRanks.firstIndex { $0 == 1 } }

    /// Reads the own-norm lens of `tokenId` at every position of `source`: each point's logit
    /// from the token's unembedding row alone (no pass over the vocabulary), and at the last
    /// position the lens of `LogitLens` itself, with ranks (its logits replace the direct ones there).
    /// - Throws: `PrismError` when the source lacks a residual point or the id is outside the vocabulary.
    public static func read(_ ctx: StudyContext, _ source: ActivationSource, tokenId: Int) throws -> StudyLens {
        let model = ctx.model, d = model.d
        let layers = model.config.numHiddenLayers, names = LogitLens.pointNames(layers: layers)
        guard tokenId >= 0, tokenId < model.vocab else { throw PrismError("token id \(tokenId) is outside the vocabulary (0..<\(model.vocab))") }
        guard let last = source.tokenIds.indices.last else { throw PrismError("empty prompt: no position to read the lens at") }
        // The token's readout u = E[id] * (final-norm gain): logit = scale * (x . u), scale = 1/rms(x).
        var row = [Float](repeating: 0, count: d)
        row.withUnsafeMutableBufferPointer { model.weights.embedding.dequantize(rows: tokenId..<(tokenId + 1), into: $0.baseAddress!) }
        let u = (0..<d).map { Double(row[$0]) * Double(model.weights.finalNormGain[$0]) }
        let eps = model.config.rmsNormEps, cap = model.config.finalLogitSoftcapping
        var logits = try (0..<last).map { q in
            try names.map { name -> Double in
                let x = try source.row(name, q)
                guard x.count == d else { throw PrismError("activation \(name) has \(x.count) values per position, not \(d)") }
                var ss = 0.0, dot = 0.0
                for (e, v) in x.enumerated() {
                    ss += Double(v) * Double(v)
                    dot += Double(v) * u[e]
                }
                let z = Double(Float(1 / (ss / Double(d) + eps).squareRoot())) * dot
                return cap.map { $0 * tanh(z / $0) } ?? z
            }
        }
        // Top 0: only the token's rank is wanted, not the top lists.
        let lens = try LogitLens(prism: ctx.prism).run(
            source, position: last, targets: [Target.token(tokenId, label: "answer")], mode: .own, top: 0,
            streamWeights: ctx.session.lastPlan?.streamWeights ?? false, softcap: true)
        logits.append(lens.map { $0.targets[0] })
        return StudyLens(
            tokenId: tokenId, token: ctx.pieces([tokenId])[0], points: names, labels: ctx.componentLabels, logits: logits,
            lastRanks: lens.map { $0.readings[0].first?.rank })
    }
}

extension StudyOutput {
    /// The lens as a position x point heatmap (`lens.svg`, `lens.csv`): one row per prompt token,
    /// one column per residual point, colour the answer's logit, the first point where it is
    /// the top-1 at the last position outlined; the CSV has one row per position and point.
    mutating func lensFigure(_ lens: StudyLens, tokens: [String]) throws {
        let rows = tokens.enumerated().map { "\($0) \(StudyText.escape($1))" }
        let answer = "`\(StudyText.escape(lens.token))`"
        report.heading("Logit lens of \(answer) at every position")
        var csv: [[String]] = []
        for (q, row) in lens.logits.enumerated() {
            for (i, v) in row.enumerated() {
                csv.append(
                    [
                        "\(q)", tokens[q], "\(i)", lens.points[i], lens.labels[i], "\(lens.tokenId)", lens.token, v.isFinite ? String(v) : "",
                        q == lens.logits.count - 1 ? (lens.lastRanks[i].map(String.init) ?? "") : "",
                    ])
            }
        }
        // The colour scale spans +- the model's own logit of the answer (the last cell): the early
        // points of a tied-embedding model read each token's own embedding (logits in the hundreds
        // on gemma-3-270m) and would wash the rest out; they are clipped, the hover gives the value.
        let rowLimit = abs(lens.logits.last?.last ?? 0)
        let largest = lens.logits.joined().filter(\.isFinite).map(abs).max() ?? 0
        let clipped = rowLimit.isFinite && largest > rowLimit * 1.0001
        try figure(
            Chart.heatmap(
                title: "Logit lens: the logit of \(StudyText.escape(lens.token)), token position x residual point", rows: rows,
                columns: lens.labels, values: lens.logits, colorLabel: "logit (own-norm lens)", xLabel: "residual stream after",
                yLabel: "token position", limit: rowLimit > 0 && rowLimit.isFinite ? rowLimit : nil,
                marked: lens.logits.indices.map { $0 == lens.logits.count - 1 ? lens.firstTop : nil },
                cell: Size(width: 26, height: 18)),
            name: "lens",
            caption:
                "Own-norm logit lens of \(answer) at each position (row) after the embedding (Embed = blocks.0.resid_pre), each attention (aL = blocks.L.resid_mid) and each MLP (mL = blocks.L.resid_post); outlined: the first point where it is the top-1 token at the last position (the one the answer is read from; lens.csv ranks that row)\(clipped ? "; colours span +- the model's logit, the cells beyond are clipped" : ""); hover a cell for its logit.",
            csv: CSV.render(
                headers: ["position", "position_token", "point_index", "point", "label", "token_id", "token", "logit", "rank"], rows: csv))
    }
}

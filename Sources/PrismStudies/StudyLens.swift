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
    /// `ranks[position][point]`: 1 + how many tokens have a larger logit there; nil for a NaN logit.
    public var ranks: [[Int?]]

    /// The first point of each position where the token is the top-1, nil where it never is.
    public var firstTop: [Int?] { ranks.map { $0.firstIndex { $0 == 1 } } }

    /// Runs the own-norm lens over every position of `source` for `tokenId`.
    /// - Throws: `PrismError` when the source lacks a residual point or the id is outside the vocabulary.
    public static func read(_ ctx: StudyContext, _ source: ActivationSource, tokenId: Int) throws -> StudyLens {
        let positions = Array(source.tokenIds.indices)
        let target = Target.token(tokenId, label: "answer")
        // Only the target's rank is wanted: top 0 keeps no top lists.
        let grid = try LogitLens(prism: ctx.prism).run(
            source, positions: positions, targets: [target], mode: .own, top: 0, streamWeights: ctx.session.lastPlan?.streamWeights ?? false,
            softcap: true)
        let layers = ctx.model.config.numHiddenLayers
        return StudyLens(
            tokenId: tokenId, token: ctx.pieces([tokenId])[0], points: LogitLens.pointNames(layers: layers), labels: ctx.componentLabels,
            logits: grid.map { $0.map { $0.targets[0] } }, ranks: grid.map { $0.map { $0.readings[0].first?.rank } })
    }
}

extension StudyOutput {
    /// The lens as a position x point heatmap (`lens.svg`, `lens.csv`): one row per prompt token,
    /// one column per residual point, colour the answer's logit, the first point where it is
    /// the top-1 outlined; the CSV has one row per position and point.
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
                        lens.ranks[q][i].map(String.init) ?? "",
                    ])
            }
        }
        try figure(
            Chart.heatmap(
                title: "Logit lens: the logit of \(StudyText.escape(lens.token)), token position x residual point", rows: rows,
                columns: lens.labels, values: lens.logits, colorLabel: "logit (own-norm lens)", xLabel: "residual stream after",
                yLabel: "token position", marked: lens.firstTop, cell: Size(width: 26, height: 18)),
            name: "lens",
            caption:
                "Own-norm logit lens of \(answer) at each position (row) after the embedding (Embed = blocks.0.resid_pre), each attention (aL = blocks.L.resid_mid) and each MLP (mL = blocks.L.resid_post); outlined: the first point where it is the top-1 token; hover a cell for its logit.",
            csv: CSV.render(
                headers: ["position", "position_token", "point_index", "point", "label", "token_id", "token", "logit", "rank"], rows: csv))
    }
}

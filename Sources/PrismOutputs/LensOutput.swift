import Foundation
import PrismFormats
import PrismModel
import PrismSession
import PrismSupport
import Prisms

/// The lens's outputs: table, JSON, CSV and .npy, from one reading.
public struct LensOutput {
    public let ids: [Int]
    public let positions: [Int]
    public let targets: [Target]
    /// Per position read, its points (`LogitLens.run`).
    public let lens: [[LogitLens.Point]]
    public let norm: LogitLens.NormMode
    public let preSoftcap: Bool
    /// The model's final logit soft-cap (nil: none).
    public let cap: Double?
    /// The route (`OutputStamp.route`) and its words for the table (`OutputStamp.routeText`).
    public let route: String
    public let routeText: String
    /// Pieces (as the tokenizer has them) and texts (`▁` as a space) of every id shown.
    public let piece: [Int: String]
    public let text: [Int: String]

    /// The outputs of a reading with everything they show already known (no session).
    public init(
        ids: [Int], positions: [Int], targets: [Target], lens: [[LogitLens.Point]], norm: LogitLens.NormMode, preSoftcap: Bool,
        cap: Double?, route: String, routeText: String, piece: [Int: String], text: [Int: String]
    ) {
        self.ids = ids
        self.positions = positions
        self.targets = targets
        self.lens = lens
        self.norm = norm
        self.preSoftcap = preSoftcap
        self.cap = cap
        self.route = route
        self.routeText = routeText
        self.piece = piece
        self.text = text
    }

    /// The outputs of a reading on `session`'s model; every token shown is looked up here,
    /// before anything is written.
    /// - Throws: `PrismError` for a tokenizer that does not parse.
    public init(
        session: PrismSession, ids: [Int], positions: [Int], targets: [Target], lens: [[LogitLens.Point]],
        norm: LogitLens.NormMode, preSoftcap: Bool, stored: Bool
    ) throws {
        // Read before anything is printed (from the id -> piece table when no text was encoded:
        // a lens given ids never parses the tokenizer).
        var piece: [Int: String] = [:], text: [Int: String] = [:]
        let shown = ids + targets.flatMap(\.ids) + lens.flatMap { $0.flatMap { $0.top.map(\.id) } }
        for id in shown where text[id] == nil {
            text[id] = try TokenText.of(id, session)
            if session.hasTokenizer { piece[id] = try session.piece(id) }
        }
        self.init(
            ids: ids, positions: positions, targets: targets, lens: lens, norm: norm, preSoftcap: preSoftcap,
            cap: session.model.config.finalLogitSoftcapping, route: OutputStamp.route(session, stored: stored),
            routeText: OutputStamp.routeText(session, stored: stored), piece: piece, text: text)
    }

    /// Bytes the JSON of `points` points with `tokens` tokens each takes while it is built
    /// (Foundation boxes every number, then the text is copied): a generous 400 bytes per token.
    public static func outputBytes(points: Int, tokens: Int) -> Int { points * (512 + 400 * tokens) }

    public var frozen: [String] { norm == .frozen ? ["final RMSNorm scale 1/rms(x_p) at each position read (ln_final.scale)"] : [] }

    public func quoted(_ id: Int) -> String { piece[id].map(Display.quote) ?? "#\(id)" }

    public func tokenText(_ id: Int) -> String { text[id] ?? "#\(id)" }

    /// A target's label without the tables' quotes: the token's text, or "A - B".
    public func plainLabel(_ t: Target) -> String {
        TokenText.label(t, tokenText)
    }

    func targetObject(_ t: Target) -> [String: Any] {
        var o: [String: Any] = ["label": t.label, "text": plainLabel(t)]
        if t.terms.count == 1 {
            o["id"] = t.ids[0]
        } else {
            o["ids"] = t.ids
            o["coefficients"] = t.terms.map { Double($0.coef) }
        }
        return o
    }

    func readingObject(_ point: LogitLens.Point, _ k: Int) -> [String: Any] {
        let r = point.readings[k]
        if targets[k].terms.count == 1, let one = r.first {
            return ["logit": point.targets[k], "probability": one.probability, "rank": one.rank.map { $0 as Any } ?? NSNull()]
        }
        return [
            "logit": point.targets[k], "probabilities": r.map(\.probability),
            "ranks": r.map { $0.rank.map { $0 as Any } ?? NSNull() },
        ]
    }

    /// The `--json` object.
    public func json() -> [String: Any] {
        var o: [String: Any] = [
            "prism_version": PrismVersion.string, "route": route,
            "ids": ids, "position": positions.last ?? 0, "positions": positions, "norm": norm.rawValue,
            "softcap": cap.map { ["cap": $0, "applied": !preSoftcap] as [String: Any] } ?? NSNull(),
            "frozen": frozen,
            "targets": targets.map(targetObject),
            "points": lens.flatMap { $0 }.map { pt in
                [
                    "position": pt.position, "name": pt.name, "after": pt.after,
                    "targets": targets.indices.map { readingObject(pt, $0) },
                    "top": pt.top.map {
                        ["id": $0.id, "token": text[$0.id] ?? "#\($0.id)", "logit": Double($0.logit), "probability": exp(Double($0.logit) - pt.logSumExp)]
                            as [String: Any]
                    },
                ] as [String: Any]
            },
        ]
        // As decompose writes them: each token's text (SentencePiece's ▁ as a space), not its raw piece.
        if !piece.isEmpty { o["tokens"] = ids.map { text[$0] ?? "#\($0)" } }
        return o
    }

    /// One row per position, point and token: each target (`role` target) and each top token
    /// (`role` top, `rank` its place). A difference target's row has no token id, probability or rank.
    public func csv() -> String {
        var s = CSVText.row([
            "position", "position_token_id", "position_token", "point_index", "point", "after", "role", "target_index",
            "token_id", "token", "logit", "probability", "rank",
        ])
        for column in lens {
            for (i, pt) in column.enumerated() {
                let lead = [String(pt.position), String(ids[pt.position]), tokenText(ids[pt.position]), String(i), pt.name, pt.after]
                for (k, t) in targets.enumerated() {
                    let single = t.terms.count == 1
                    let r = pt.readings[k].first
                    s += CSVText.row(
                        lead + [
                            "target", String(k), single ? String(t.ids[0]) : "", plainLabel(t), CSVText.number(pt.targets[k]),
                            single ? CSVText.number(r?.probability ?? .nan) : "", single ? (r?.rank.map(String.init) ?? "") : "",
                        ])
                }
                for (j, e) in pt.top.enumerated() {
                    s += CSVText.row(
                        lead + [
                            "top", "", String(e.id), tokenText(e.id), CSVText.number(Double(e.logit)),
                            CSVText.number(exp(Double(e.logit) - pt.logSumExp)), String(j + 1),
                        ])
                }
            }
        }
        return s
    }

    /// logits.npy / probabilities.npy / ranks.npy [N, P, K] (a difference: NaN / -1), top_ids.npy
    /// and top_logits.npy [N, P, top] (-1 / NaN past the tokens found), ids.npy [N], lens.json.
    /// - Throws: what `JSONOut.string` throws.
    public func npyFiles() throws -> [DecompositionFiles.File] {
        let N = lens.count, P = lens.first?.count ?? 0, K = targets.count
        let k = lens.flatMap { $0.map(\.top.count) }.max() ?? 0
        let all = lens.flatMap { $0 }
        var logits: [Double] = [], probs: [Double] = [], ranks: [Int] = [], topIds: [Int] = [], topLogits: [Double] = []
        for pt in all {
            for (j, t) in targets.enumerated() {
                logits.append(pt.targets[j])
                let single = t.terms.count == 1
                probs.append(single ? pt.readings[j][0].probability : .nan)
                ranks.append(single ? (pt.readings[j][0].rank ?? -1) : -1)
            }
            for j in 0..<k {
                topIds.append(j < pt.top.count ? pt.top[j].id : -1)
                topLogits.append(j < pt.top.count ? Double(pt.top[j].logit) : .nan)
            }
        }
        var meta = json()
        meta.removeValue(forKey: "points")
        meta["point_names"] = all.prefix(P).map(\.name)
        meta["point_after"] = all.prefix(P).map(\.after)
        meta["targets"] = targets.enumerated().map { j, t in
            ["index": j, "label": plainLabel(t), "ids": t.ids, "coefficients": t.terms.map { Double($0.coef) }, "tokens": t.ids.map(tokenText)] as [String: Any]
        }
        meta["arrays"] = [
            "logits.npy": [N, P, K], "probabilities.npy": [N, P, K], "ranks.npy": [N, P, K], "top_ids.npy": [N, P, k],
            "top_logits.npy": [N, P, k], "ids.npy": [N],
        ]
        return [
            ("logits.npy", NPY.encode(shape: [N, P, K], float64: logits)),
            ("probabilities.npy", NPY.encode(shape: [N, P, K], float64: probs)),
            ("ranks.npy", NPY.encode(shape: [N, P, K], int64: ranks)),
            ("top_ids.npy", NPY.encode(shape: [N, P, k], int64: topIds)),
            ("top_logits.npy", NPY.encode(shape: [N, P, k], float64: topLogits)),
            ("ids.npy", NPY.encode(shape: [N], int64: positions.map { ids[$0] })),
            ("lens.json", Array((try JSONOut.string(meta) + "\n").utf8)),
        ]
    }

    /// Per position: a header, then one line per point with each target's logit, probability
    /// and rank, and the top tokens.
    public func writeTable<Out: TextOutputStream>(to out: inout Out) {
        let capText = cap.map { c in
            preSoftcap ? "logits before the soft-cap (the model outputs \(c) tanh(z/\(c)))" : "logits through the soft-cap \(c) tanh(z/\(c))"
        }
        Swift.print(
            "logit lens, norm: \(norm == .own ? "each point's own 1/rms" : "the position's frozen final 1/rms")"
                + (capText.map { "; " + $0 } ?? "") + "; route: \(routeText)", to: &out)
        if !targets.isEmpty {
            Swift.print(
                "per target: logit, probability p (softmax over the vocabulary at the point) and rank #; a difference: logit and its tokens' ranks", to: &out)
        }
        let width = 24
        let header = targets.map { DecompositionTable.pad($0.label, width) }.joined(separator: " ")
        for column in lens {
            guard let q = column.first?.position else { continue }
            Swift.print("\nposition \(q) \(quoted(ids[q]))", to: &out)
            Swift.print("point                after          \(header)\(header.isEmpty ? "" : " ")top tokens", to: &out)
            for pt in column {
                let cells = targets.indices.map { k -> String in
                    let r = pt.readings[k]
                    let cell =
                        targets[k].terms.count == 1
                        ? String(format: "%+9.3f p %.3f", pt.targets[k], r[0].probability) + " #" + (r[0].rank.map(String.init) ?? "-")
                        : String(format: "%+9.3f", pt.targets[k]) + " #" + r.map { $0.rank.map(String.init) ?? "-" }.joined(separator: "/#")
                    return DecompositionTable.pad(cell, width)
                }.joined(separator: " ")
                let topText = pt.top.map { "\(quoted($0.id)) \(String(format: "%.2f", $0.logit))" }.joined(separator: ", ")
                Swift.print(
                    "\(DecompositionTable.pad(pt.name, 20)) \(DecompositionTable.pad(pt.after, 14)) \(cells)\(cells.isEmpty ? "" : " ")\(topText)", to: &out)
            }
        }
    }

    /// The table as one string.
    public func table() -> String {
        var s = ""
        writeTable(to: &s)
        return s
    }
}

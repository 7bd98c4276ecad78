import Foundation
import PrismModel
import PrismPlots
import PrismSupport

/// The article's picture of the digit unembeddings: the ten rows of W_E for "0".."9",
/// centred and projected on their two principal components, joined 0-1-...-9-0.
public struct DigitsStudy {
    public init() {}

    /// Every number the digits report shows (`compute` finds them, `report` only formats and
    /// writes them); also what `run` returns.
    public struct Result {
        /// The model file or folder the vectors come from (named in the report).
        public var modelPath: String
        /// Each digit's coordinates on the two components, "0" to "9".
        public var coordinates: [(x: Double, y: Double)]
        /// Share of the ten vectors' variance on each of the two components.
        public var explained: (Double, Double)
        /// Reflection about the line through 0 and 5: mean distance between digit k reflected
        /// and digit 10 - k, over the mean distance from the centre (0 = perfect symmetry).
        public var asymmetry: Double
        /// The digits in the order of their angle about the centre (counter-clockwise from digit 0),
        /// and how many of the ten pairs k, k+1 (9 and 0 included) are neighbours in that order:
        /// 10 of 10 is a ring in order (the article's picture), fewer a ring out of order.
        public var angularOrder: [Int]
        public var ringNeighbours: Int
    }

    public func compute(_ ctx: StudyContext) throws -> Result {
        let d = ctx.model.d
        var rows: [[Double]] = []
        for k in 0...9 {
            let id = try ctx.singleToken("\(k)")
            var e = [Float](repeating: 0, count: d)
            e.withUnsafeMutableBufferPointer { ctx.model.weights.embedding.dequantize(rows: id..<(id + 1), into: $0.baseAddress!) }
            rows.append(e.map(Double.init))
        }
        let mean = (0..<d).map { i in rows.reduce(0) { $0 + $1[i] } / 10 }
        let centred = rows.map { r in zip(r, mean).map { $0 - $1 } }
        // PCA through the 10 x 10 Gram matrix: its eigenvectors, scaled, are the coordinates.
        var gram = [[Double]](repeating: [Double](repeating: 0, count: 10), count: 10)
        for a in 0..<10 { for b in 0..<10 { gram[a][b] = zip(centred[a], centred[b]).reduce(0) { $0 + $1.0 * $1.1 } } }
        let (values, vectors) = Jacobi.eigen(gram)
        let order = values.indices.sorted { values[$0] > values[$1] }
        let total = values.reduce(0) { $0 + max(0, $1) }
        let (i1, i2) = (order[0], order[1])
        let coords = (0..<10).map { k in (x: vectors[k][i1] * max(0, values[i1]).squareRoot(), y: vectors[k][i2] * max(0, values[i2]).squareRoot()) }
        return Result(
            modelPath: ctx.loaded.path, coordinates: coords, explained: (total > 0 ? values[i1] / total : 0, total > 0 ? values[i2] / total : 0),
            asymmetry: Self.asymmetry(coords), angularOrder: Self.angularOrder(coords), ringNeighbours: Self.ringNeighbours(Self.angularOrder(coords)))
    }

    /// The ten digits sorted by angle about the centre (the origin: the points are centred),
    /// starting at digit 0 and turning counter-clockwise.
    static func angularOrder(_ p: [(x: Double, y: Double)]) -> [Int] {
        let a0 = atan2(p[0].y, p[0].x)
        func turn(_ k: Int) -> Double {
            let t = atan2(p[k].y, p[k].x) - a0
            return t < 0 ? t + 2 * Double.pi : t
        }
        return p.indices.sorted { turn($0) < turn($1) }
    }

    /// How many of the pairs (k, k+1 mod 10) are next to each other, either way round, in the
    /// cyclic `order`.
    static func ringNeighbours(_ order: [Int]) -> Int {
        let n = order.count
        guard n > 1 else { return 0 }
        var position = [Int](repeating: 0, count: n)
        for (i, k) in order.enumerated() { position[k] = i }
        return (0..<n).filter { k in
            let gap = abs(position[k] - position[(k + 1) % n])
            return gap == 1 || gap == n - 1
        }.count
    }

    static func asymmetry(_ p: [(x: Double, y: Double)]) -> Double {
        let (ax, ay) = (p[5].x - p[0].x, p[5].y - p[0].y)
        let len = (ax * ax + ay * ay).squareRoot()
        guard len > 0 else { return .nan }
        let (ux, uy) = (ax / len, ay / len)
        func reflect(_ q: (x: Double, y: Double)) -> (Double, Double) {
            let (dx, dy) = (q.x - p[0].x, q.y - p[0].y)
            let t = dx * ux + dy * uy
            return (p[0].x + 2 * t * ux - dx, p[0].y + 2 * t * uy - dy)
        }
        let dist = (1...4).map { k -> Double in
            let (rx, ry) = reflect(p[k])
            return ((rx - p[10 - k].x) * (rx - p[10 - k].x) + (ry - p[10 - k].y) * (ry - p[10 - k].y)).squareRoot()
        }
        let radius = p.reduce(0) { $0 + ($1.x * $1.x + $1.y * $1.y).squareRoot() } / 10
        return radius > 0 ? dist.reduce(0, +) / 4 / radius : .nan
    }

    /// `force`: replace the files an earlier run wrote in `dir` (see `writeFileSet`). The folder
    /// is checked before the work (`Outputs.checkSet`), then `compute`, then `report`.
    public func run(_ ctx: StudyContext, output dir: String, force: Bool = false) throws -> Result {
        try Outputs.checkSet(dir, force: force, inputs: [ctx.loaded.path])
        let r = try compute(ctx)
        try report(r, output: dir, force: force)
        return r
    }

    /// Writes the report of `r` into `dir`: index.html, the figure as SVG and CSV, and
    /// summary.json, as one set (see `StudyOutput`).
    /// - Throws: `PrismError` when `dir` may not be written, or an I/O error from the write.
    public func report(_ r: Result, output dir: String, force: Bool = false) throws {
        // No activations: the unembedding's dequantized weights in fp32 (the exact route's arithmetic).
        var out = try StudyOutput(
            directory: dir, force: force, inputs: [r.modelPath], route: "exact", title: "The digit unembeddings in two dimensions",
            subtitle: "logit prisms on \(r.modelPath)")
        let points = r.coordinates.enumerated().map { ScatterPoint(x: $1.x, y: $1.y, label: "\($0)") }
        let e1 = PlotFormat.fixed(r.explained.0 * 100, decimals: 1), e2 = PlotFormat.fixed(r.explained.1 * 100, decimals: 1)
        out.report.paragraph(
            "The rows of the (tied) unembedding `W_E` for the tokens \"0\" to \"9\", centred, projected on their first two principal components (\(e1)% and \(e2)% of their variance), joined in order 0-1-...-9 and back to 0. On gemma-2b the article finds a heart shape symmetric about the 0-5 axis; here the asymmetry (mean distance between digit k reflected about the 0-5 line and digit 10-k, over the mean radius) is \(f3(r.asymmetry)). Going round the centre from 0 the digits come in the order \(r.angularOrder.map(String.init).joined(separator: " ")): \(r.ringNeighbours) of the 10 pairs k, k+1 (9 and 0 included) are neighbours on the ring."
        )
        try out.figure(
            Chart.scatter(
                title: "Digit unembeddings, PCA", points: points, pathOrder: Array(0...9), closePath: true,
                xLabel: "PC1 (\(e1)% of variance)", yLabel: "PC2 (\(e2)% of variance)", equalAspect: true),
            name: "digits_pca", caption: "Each point is a digit's unembedding vector.",
            csv: CSV.render(headers: ["digit", "pc1", "pc2"], rows: r.coordinates.enumerated().map { ["\($0)", f3($1.x), f3($1.y)] }))
        try out.json(
            [
                "explained_variance": [r.explained.0, r.explained.1], "asymmetry": r.asymmetry, "angular_order": r.angularOrder,
                "ring_neighbours": r.ringNeighbours,
                "coordinates": r.coordinates.map { [$0.x, $0.y] },
            ], "summary.json")
        try out.finish()
    }
}

/// Symmetric eigen-decomposition by cyclic Jacobi rotations: exact enough for small matrices.
enum Jacobi {
    /// Returns eigenvalues and the eigenvectors as columns (`vectors[row][k]`).
    static func eigen(_ m: [[Double]]) -> ([Double], [[Double]]) {
        let n = m.count
        var a = m
        var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in 0..<n where i != j { off += a[i][j] * a[i][j] } }
            if off < 1e-22 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where abs(a[p][q]) > 1e-300 {
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k][p], akq = a[k][q]
                        a[k][p] = c * akp - s * akq
                        a[k][q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p][k], aqk = a[q][k]
                        a[p][k] = c * apk - s * aqk
                        a[q][k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k][p], vkq = v[k][q]
                        v[k][p] = c * vkp - s * vkq
                        v[k][q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0][$0] }, v)
    }
}

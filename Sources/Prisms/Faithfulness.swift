/// How far a decomposition moves when the weights change (int8 against f32): per term kind,
/// the largest and RMS difference relative to the reference's largest |term|, and whether the
/// top terms by |value| stay the same.
public enum Faithfulness {
    public struct Row: Sendable {
        public var kind: String
        public var terms: Int
        public var maxAbsDiff: Double
        public var rmsDiff: Double
        public var scale: Double
        /// Share of the reference's top-10 terms (by |value|) also in the other's top 10.
        public var topOverlap: Double
        public var relMax: Double { scale > 0 ? maxAbsDiff / scale : 0 }
        public var relRMS: Double { scale > 0 ? rmsDiff / scale : 0 }
    }

    public static func compare(_ test: Decomposition, against ref: Decomposition) -> [Row] {
        func flat(_ d: Decomposition) -> [(String, [Double])] {
            var logit: [Double] = [], residual: [Double] = [], heads: [Double] = [], sources: [Double] = [], neurons: [Double] = []
            for t in d.targets {
                logit.append(t.logit)
                residual += t.residualTerms.map(\.value)
                heads += t.heads.flatMap { $0 }
                sources += t.headSources.flatMap { $0.flatMap { $0 } }
                neurons += t.neurons.flatMap { $0 }
            }
            return [("logit", logit), ("residual (embed, attn, mlp)", residual), ("heads", heads), ("head x source", sources), ("neurons", neurons)]
        }
        return zip(flat(test), flat(ref)).map { a, b in
            let diffs = zip(a.1, b.1).map { abs($0 - $1) }
            let scale = b.1.map(abs).max() ?? 0
            let rms = diffs.isEmpty ? 0 : (diffs.reduce(0) { $0 + $1 * $1 } / Double(diffs.count)).squareRoot()
            func top(_ v: [Double]) -> Set<Int> { Set(v.indices.sorted { abs(v[$0]) > abs(v[$1]) }.prefix(10)) }
            let k = min(10, b.1.count)
            let overlap = k == 0 ? 1 : Double(top(a.1).intersection(top(b.1)).count) / Double(k)
            return Row(kind: b.0, terms: b.1.count, maxAbsDiff: diffs.max() ?? 0, rmsDiff: rms, scale: scale, topOverlap: overlap)
        }
    }
}

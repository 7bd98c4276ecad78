import Foundation
import PrismFormats
import PrismSupport
import Prisms

enum DecompositionTable {
    static func print(_ d: Decomposition, pieces: [String]?, top: Int) {
        func tok(_ j: Int) -> String { pieces.map { Display.quote($0[j]) } ?? "#\(d.ids[j])" }
        Swift.print("position \(d.position) \(tok(d.position)) of \(d.ids.count) tokens")
        Swift.print("frozen: " + Decomposition.frozen.joined(separator: "; "))
        for t in d.targets {
            Swift.print("")
            Swift.print(
                "target \(t.target.label): logit \(fmt(t.logit)) = sum \(fmt(t.sum)) (error \(String(format: "%.2e", t.error)); finer terms close to \(String(format: "%.2e", t.finerClosure)))"
            )
            let nan = t.nanTerms
            if nan.residual + nan.heads + nan.headSources + nan.neurons > 0 {
                Swift.print("  NaN terms (not ranked): \(nan.residual) residual, \(nan.heads) heads, \(nan.headSources) head x source, \(nan.neurons) neurons")
            }
            Swift.print("  residual prism:")
            for (name, v) in t.residualTerms { Swift.print("    \(pad(name, 18)) \(fmt(v))") }
            Swift.print("  top heads:")
            for e in Ranking.heads(t, top: top) { Swift.print("    \(pad("blocks.\(e.layer).head\(e.head)", 18)) \(fmt(e.value))") }
            Swift.print("  top head x source:")
            for e in Ranking.headSources(t, top: top) {
                Swift.print("    \(pad("blocks.\(e.layer).head\(e.head)", 18)) \(fmt(e.value))  from \(e.source) \(tok(e.source))")
            }
            Swift.print("  top neurons:")
            for e in Ranking.neurons(t, top: top) { Swift.print("    \(pad("blocks.\(e.layer).mlp.\(e.neuron)", 18)) \(fmt(e.value))") }
        }
    }

    static func fmt(_ v: Double) -> String { String(format: "%+10.4f", v) }
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}

enum DecompositionFiles {
    /// terms.npy [K, 1 + 2L] (embed, blocks.0.attn, blocks.0.mlp, ...), heads.npy [K, L, H],
    /// head_sources.npy [K, L, H, P], neurons.npy [K, L, ff], logits.npy [K], ids.npy [P].
    static func writeNPY(_ d: Decomposition, dir: String, force: Bool, inputs: [String]) throws {
        let K = d.targets.count
        guard let first = d.targets.first else { return }
        let L = first.attn.count, H = first.heads.first?.count ?? 0, P = d.position + 1, ff = first.neurons.first?.count ?? 0
        let labels = try JSONOut.string([
            "targets": d.targets.map(\.target.label), "position": d.position,
            "terms": first.residualTerms.map(\.name), "frozen": Decomposition.frozen,
        ])
        try writeSet(
            dir, force: force, inputs: inputs,
            [
                ("terms.npy", NPY.encode(shape: [K, 1 + 2 * L], float64: d.targets.flatMap { $0.residualTerms.map(\.value) })),
                ("heads.npy", NPY.encode(shape: [K, L, H], float64: d.targets.flatMap { $0.heads.flatMap { $0 } })),
                ("head_sources.npy", NPY.encode(shape: [K, L, H, P], float64: d.targets.flatMap { $0.headSources.flatMap { $0.flatMap { $0 } } })),
                ("neurons.npy", NPY.encode(shape: [K, L, ff], float64: d.targets.flatMap { $0.neurons.flatMap { $0 } })),
                ("logits.npy", NPY.encode(shape: [K], float64: d.targets.map(\.logit))),
                ("ids.npy", NPY.encode(shape: [d.ids.count], int64: d.ids)),
                ("targets.json", Array((labels + "\n").utf8)),
            ])
    }

    /// Long-format CSVs: residual.csv, heads.csv, head_sources.csv, neurons.csv.
    static func writeCSV(_ d: Decomposition, dir: String, force: Bool, inputs: [String]) throws {
        var residual = "target,term,value\n", heads = "target,layer,head,value\n"
        var sources = "target,layer,head,source,value\n", neurons = "target,layer,neuron,value\n"
        for t in d.targets {
            let label = csvField(t.target.label)
            for (name, v) in t.residualTerms { residual += "\(label),\(name),\(v)\n" }
            residual += "\(label),logit,\(t.logit)\n\(label),error,\(t.error)\n"
            for (l, hs) in t.heads.enumerated() { for (h, v) in hs.enumerated() { heads += "\(label),\(l),\(h),\(v)\n" } }
            for (l, hs) in t.headSources.enumerated() {
                for (h, ss) in hs.enumerated() { for (j, v) in ss.enumerated() { sources += "\(label),\(l),\(h),\(j),\(v)\n" } }
            }
            for (l, ns) in t.neurons.enumerated() { for (n, v) in ns.enumerated() { neurons += "\(label),\(l),\(n),\(v)\n" } }
        }
        try writeSet(
            dir, force: force, inputs: inputs,
            [
                ("residual.csv", Array(residual.utf8)), ("heads.csv", Array(heads.utf8)),
                ("head_sources.csv", Array(sources.utf8)), ("neurons.csv", Array(neurons.utf8)),
            ])
    }

    static func csvField(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// All of an output's files, or none of them, swapped in whole (`writeFileSet`).
    static func writeSet(_ dir: String, force: Bool, inputs: [String], _ files: [(name: String, bytes: [UInt8])]) throws {
        if let note = try writeFileSet(dir, files.map { ($0.name, Data($0.bytes)) }, force: force, inputs: inputs) {
            FileHandle.standardError.write(Data("note: \(note)\n".utf8))
        }
    }
}

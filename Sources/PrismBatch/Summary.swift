import Foundation
import PrismSupport
import Prisms

/// Dataset statistics over a batch's results: per component (embed, blocks.L.attn,
/// blocks.L.mlp), the mean and spread of its term over every record and target, the share
/// of them where it pushes towards the target, and the components with the largest mean
/// |contribution|; plus how often each head and neuron appears among the top terms.
public enum BatchSummary {
    struct Accumulator {
        var n = 0
        var sum = 0.0, sumSq = 0.0, sumAbs = 0.0
        var positive = 0
        mutating func add(_ v: Double) {
            n += 1; sum += v; sumSq += v * v; sumAbs += abs(v)
            if v > 0 { positive += 1 }
        }
        var mean: Double { n == 0 ? 0 : sum / Double(n) }
        var std: Double { n < 2 ? 0 : max(0, (sumSq - sum * sum / Double(n)) / Double(n - 1)).squareRoot() }
        var meanAbs: Double { n == 0 ? 0 : sumAbs / Double(n) }
    }

    public struct Result {
        public var object: [String: Any]
        public var csv: String
    }

    public static func summarize(resultsPath: String) throws -> Result {
        guard let data = FileManager.default.contents(atPath: resultsPath) else { throw PrismError("cannot read \(resultsPath)") }
        var components: [String: Accumulator] = [:]
        var heads: [String: Accumulator] = [:], neurons: [String: Accumulator] = [:]
        var records = 0, errors = 0, targets = 0
        var maxError = 0.0
        var routes = Set<String>()
        for (k, raw) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(raw))) as? [String: Any] else {
                throw PrismError("\(resultsPath): line \(k + 1) is not JSON")
            }
            // What `prism batch` writes: its input line and either an error or the targets (a
            // batch *input* file was summarized as an empty result before).
            guard obj["line"] is Int, obj["error"] != nil || obj["targets"] != nil else {
                throw PrismError("\(resultsPath): line \(k + 1) is not a result record (summarize reads what prism batch wrote)")
            }
            records += 1
            if let route = obj["route"] as? String { routes.insert(route) }
            if obj["error"] != nil { errors += 1; continue }
            for t in obj["targets"] as? [[String: Any]] ?? [] {
                targets += 1
                maxError = max(maxError, abs(t["error"] as? Double ?? 0))
                for (name, v) in t["terms"] as? [String: Double] ?? [:] { components[name, default: .init()].add(v) }
                for h in t["top_heads"] as? [[String: Any]] ?? [] {
                    if let l = h["layer"] as? Int, let i = h["head"] as? Int, let v = h["value"] as? Double {
                        heads[ComponentName.head(l, i), default: .init()].add(v)
                    }
                }
                for h in t["top_neurons"] as? [[String: Any]] ?? [] {
                    if let l = h["layer"] as? Int, let i = h["neuron"] as? Int, let v = h["value"] as? Double {
                        neurons[ComponentName.neuron(l, i), default: .init()].add(v)
                    }
                }
                // --detail full: every head is present, so count them all.
                if let all = t["heads"] as? [[Double]] {
                    for (l, hs) in all.enumerated() { for (i, v) in hs.enumerated() { heads[ComponentName.head(l, i), default: .init()].add(v) } }
                }
            }
        }
        func order(_ name: String) -> (Int, Int) {
            if name == "embed" { return (-1, 0) }
            let parts = name.split(separator: ".")
            return (parts.count > 1 ? Int(parts[1]) ?? 0 : 0, name.hasSuffix("mlp") ? 1 : 0)
        }
        let names = components.keys.sorted { order($0) < order($1) }
        func stat(_ a: Accumulator) -> [String: Any] {
            ["n": a.n, "mean": a.mean, "std": a.std, "mean_abs": a.meanAbs, "share_towards_target": a.n == 0 ? 0 : Double(a.positive) / Double(a.n)]
        }
        let ranked = names.sorted { (components[$0]?.meanAbs ?? 0) > (components[$1]?.meanAbs ?? 0) }
        func topList(_ m: [String: Accumulator]) -> [[String: Any]] {
            m.sorted { $0.value.n != $1.value.n ? $0.value.n > $1.value.n : $0.key < $1.key }.prefix(20).map {
                ["name": $0.key, "appearances": $0.value.n, "mean": $0.value.mean]
            }
        }
        var object: [String: Any] = [
            "records": records, "errors": errors, "targets": targets, "max_abs_closure_error": maxError,
            "components": Dictionary(uniqueKeysWithValues: names.compactMap { n in components[n].map { (n, stat($0)) } }),
            "component_order": names,
            "top_components_by_mean_abs": Array(ranked.prefix(10)),
            "heads_most_often_in_top": topList(heads),
            "neurons_most_often_in_top": topList(neurons),
        ]
        // The records' route (all alike unless files from different runs were merged).
        DecompositionJSON.stamp(&object, route: routes.count == 1 ? routes.first ?? "" : routes.isEmpty ? "unknown" : "mixed")
        var csv = "component,n,mean,std,mean_abs,share_towards_target\n"
        for n in names {
            guard let a = components[n] else { continue }
            csv += "\(n),\(a.n),\(a.mean),\(a.std),\(a.meanAbs),\(a.n == 0 ? 0 : Double(a.positive) / Double(a.n))\n"
        }
        return Result(object: object, csv: csv)
    }
}

/// Joins shard outputs, checking that every input line's record appears exactly once (and,
/// given the input, that every input line is there), and that the parts are shards of one job:
/// their journals name the same model, input and options (route included), and their records
/// one route. The merged lines follow the input's order.
public enum BatchMerge {
    public static func merge(parts: [String], output: String, input: BatchInput?, force: Bool) throws -> (records: Int, errors: Int) {
        let fm = FileManager.default
        try Outputs.checkFile(output, force: force, inputs: parts)
        var seen: [Int: String] = [:]
        var lines: [(line: Int, text: Data)] = []
        var errors = 0
        var job: (header: Journal.Header, part: String)?
        var routes: [String: String] = [:]  // route -> the first part holding it
        for part in parts {
            if let holder = OutputLock.holder(of: part) { throw PrismError("\(part) is still being written (\(holder)); merge once that shard has finished") }
            guard let data = fm.contents(atPath: part) else { throw PrismError("cannot read \(part)") }
            if let last = data.last, last != UInt8(ascii: "\n") { throw PrismError("\(part) ends in a torn line: resume that shard first") }
            if !fm.fileExists(atPath: part + ".journal") {
                // Records carry their route, not their model: without the journal that is all merge can check.
                FileHandle.standardError.write(
                    Data("warning: \(part) has no journal: merge cannot check that it comes from the same model and options as the other parts\n".utf8))
            }
            if fm.fileExists(atPath: part + ".journal") {
                let journal = fm.contents(atPath: part + ".journal") ?? Data()
                if journal.last != UInt8(ascii: "\n") { throw PrismError("\(part).journal is torn: resume that shard first") }
                if let first = journal.split(separator: UInt8(ascii: "\n")).first,
                    let header = try? JSONDecoder().decode(Journal.Header.self, from: Data(first))
                {
                    if let input, header.input != input.checksum {
                        throw PrismError("\(part) was made from another input than the one given (see \(part).journal)")
                    }
                    if let job {
                        var what: [String] = []
                        if header.model != job.header.model { what.append("models") }
                        if header.input != job.header.input { what.append("inputs") }
                        if header.options != job.header.options || header.format != job.header.format { what.append("options") }
                        if !what.isEmpty {
                            throw PrismError(
                                "\(part) and \(job.part) were made with different \(what.joined(separator: " and ")) (see their journals); merge only the shards of one job"
                            )
                        }
                    } else {
                        job = (header, part)
                    }
                }
            }
            for (k, raw) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
                let notRecord = PrismError("\(part): line \(k + 1) is not a result record")
                let parsed: Any
                do { parsed = try JSONSerialization.jsonObject(with: Data(raw)) } catch { throw notRecord }
                guard let obj = parsed as? [String: Any], let n = obj["line"] as? Int else { throw notRecord }
                if let first = seen[n] { throw PrismError("the record of input line \(n) appears in both \(first) and \(part)") }
                seen[n] = part
                if let route = obj["route"] as? String, routes[route] == nil {
                    if let (other, holder) = routes.first {
                        throw PrismError("\(part) holds records of the \(route) route, \(holder) of the \(other) route; merge only the shards of one job")
                    }
                    routes[route] = part
                }
                if obj["error"] != nil { errors += 1 }
                lines.append((n, Data(raw)))
            }
        }
        if let input {
            let expected = input.entries.map { entry -> Int in
                switch entry {
                case .success(let r): return r.line
                case .failure(let e): return e.line
                }
            }
            let missing = expected.filter { seen[$0] == nil }
            if let first = missing.first {
                throw PrismError("\(missing.count) input records are in no part (first: input line \(first)); run the missing shards")
            }
            let extra = Set(seen.keys).subtracting(expected)
            if let e = extra.min() { throw PrismError("a record of input line \(e) is in the parts but there is no such record in the input") }
        }
        var all = Data()
        for l in lines.sorted(by: { $0.line < $1.line }) { all.append(l.text); all.append(UInt8(ascii: "\n")) }
        try writeFileAtomically(all, to: output, force: force)
        return (lines.count, errors)
    }
}

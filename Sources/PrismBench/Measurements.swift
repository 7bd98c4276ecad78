import Foundation
import PrismKernels
import PrismModel
import PrismSession
import PrismSupport
import Prisms

/// The measurements `prism bench` runs, one per child process (so each peak RSS is its own):
/// the forward pass (prefill and one decode step), the prisms' cost on top of it, and the
/// memory-bandwidth floor. Each returns one JSON object of medians over `repeats` runs (times in
/// ms; the first run, which pages the weights in, is not counted).
public enum Measurements {
    /// A synthetic prompt of `tokens` ids: `<bos>` then ids from 1000 on.
    static func prompt(_ m: GemmaModel, tokens: Int) -> [Int] {
        [2] + (0..<(tokens - 1)).map { 1000 + $0 % max(1, m.vocab - 1000) }
    }

    /// Prefill of `tokens` tokens and one decode step after it, planned by the session.
    /// - Throws: `PrismError` when the budget is too small or the prompt too long.
    public static func forward(_ session: PrismSession, tokens: Int, repeats: Int) throws -> [String: Any] {
        let m = session.model
        let ids = prompt(m, tokens: tokens)
        let options = try session.plan(tokens: tokens + 1, logitRows: 1)
        var prefill: [Double] = [], decode: [Double] = []
        for i in 0...repeats {
            let cache = m.makeCache(sequences: 1, capacity: tokens + 1)
            var t = Date()
            let logits = try m.forward([ids], cache: cache, logitsAt: [[ids.count - 1]], options: options)[0][0]
            let p = Date().timeIntervalSince(t) * 1000
            let next = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            t = Date()
            _ = try m.forward([[next]], cache: cache, logitsAt: [[0]], options: options)
            let d = Date().timeIntervalSince(t) * 1000
            if i > 0 { prefill.append(p); decode.append(d) }  // the first run pages the weights in
        }
        return [
            "prefill_ms_median": median(prefill), "decode_ms_median": median(decode), "prefill_ms_all": prefill,
            "decode_ms_all": decode, "peak_rss_bytes": ResourceUsage.peakRSS, "kernel": options.kernel.name,
            "streamed": options.streamWeights, "resident_layers": options.residentLayers, "threads": options.threads,
        ]
    }

    /// The prisms' cost: the forward pass recording what `prism decompose` records, then every
    /// term (heads x sources, neurons) of `k` targets, cold (`Prism.once`) and reusing the
    /// targets' pull-backs (a prism that outlives one prompt, as a study's or a batch job's does);
    /// and the pull-backs alone. Costs are per run `(recording forward + decomposition - plain
    /// forward) / plain forward`, in percent.
    public static func prisms(_ session: PrismSession, tokens: Int, repeats: Int, targets k: Int) throws -> [String: Any] {
        let m = session.model
        let ids = prompt(m, tokens: tokens)
        let options = try session.plan(tokens: tokens, extraBytes: PrismSession.recordedBytes(m, tokens: tokens), logitRows: 1)
        let targets = (0..<k).map { Target.token(100 + $0 * 7) }
        var forward: [Double] = [], decompose: [Double] = [], plain: [Double] = [], pulls: [Double] = []
        var warmDecompose: [Double] = [], cost: [Double] = [], warmCost: [Double] = []
        let warm = Prism(model: m)
        for i in 0...repeats {
            var t = Date()
            _ = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: tokens), logitsAt: [[tokens - 1]], options: options)
            let f0 = Date().timeIntervalSince(t) * 1000
            t = Date()
            let (source, _) = try m.recordLastPosition(ids, options: options)  // as `prism decompose` records
            let f = Date().timeIntervalSince(t) * 1000
            t = Date()
            let d = try Prism.once(m).decompose(source, position: tokens - 1, targets: targets, options: options)
            let c = Date().timeIntervalSince(t) * 1000
            guard d.targets.count == k else { throw PrismError("internal: \(d.targets.count) of \(k) targets decomposed") }
            t = Date()
            _ = try warm.decompose(source, position: tokens - 1, targets: targets, options: options)
            let cw = Date().timeIntervalSince(t) * 1000
            // The pull-backs alone (U W_O, U W_down over every layer), the kernel's share.
            t = Date()
            let rowsU = try Prism(model: m).readouts(targets, source: source, position: tokens - 1)
            var uWo = [Float](repeating: 0, count: k * m.heads * m.headDim), uWd = [Float](repeating: 0, count: k * m.ff)
            for lw in m.weights.layers {
                rowsU.withUnsafeBufferPointer { up in
                    uWo.withUnsafeMutableBufferPointer { pullBack(up.baseAddress!, count: k, lw.o, $0.baseAddress!, threads: options.threads) }
                    uWd.withUnsafeMutableBufferPointer { pullBack(up.baseAddress!, count: k, lw.down, $0.baseAddress!, threads: options.threads) }
                }
            }
            let pb = Date().timeIntervalSince(t) * 1000
            if i > 0 {
                plain.append(f0); forward.append(f); decompose.append(c); pulls.append(pb); warmDecompose.append(cw)
                cost.append((f + c - f0) / f0 * 100); warmCost.append((f + cw - f0) / f0 * 100)
            }
        }
        return [
            "forward_ms_median": median(plain), "recording_forward_ms_median": median(forward),
            "decompose_ms_median": median(decompose), "pullback_ms_median": median(pulls), "targets": k, "tokens": tokens,
            "decompose_reusing_ms_median": median(warmDecompose), "cost_percent_median": median(cost),
            "cost_reusing_percent_median": median(warmCost), "threads": session.threads,
            "peak_rss_bytes": ResourceUsage.peakRSS,
        ]
    }

    /// One sequential pass over the mapped file (`repeats` times after a warming pass): the floor
    /// of a decode step, which reads every weight once.
    /// - Throws: `PrismError` when the file cannot be mapped.
    public static func readFloor(path: String, repeats: Int, threads: Int) throws -> [String: Any] {
        let file = try MappedFile(path: path)
        var times: [Double] = []
        for i in 0...repeats {
            let t = Date()
            _ = ReadFloor.sum(file, threads: threads)
            if i > 0 { times.append(Date().timeIntervalSince(t) * 1000) }  // the first pass warms the page cache
        }
        return ["bytes": file.size, "read_ms_median": median(times), "read_ms_all": times, "threads": threads]
    }

    /// The median (NaN for none).
    public static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

import Foundation
import PrismSupport

/// `prism bench`'s table: a header line (model size, read floor, prompt, threads, repeats), one
/// row per configuration (prefill and decode medians in ms, each beside the peer's as a ratio,
/// decode over the read floor, peak RSS), the peer's row first, then the prisms' cost per prompt
/// length. A figure a child did not report is NaN (`nan`), a ratio without both sides `-`.
public enum BenchTable {
    /// Writes the table of `results` for `model` measured with `tokens`-token prompts and
    /// `repeats` repeats; `peerCheckpoint` nil: the peer's GGUF was measured as given.
    public static func write<Out: TextOutputStream>(
        _ results: BenchResults, model: String, tokens: Int, repeats: Int, peerCheckpoint: String?, to out: inout Out
    ) {
        let floor = results.readFloor
        let floorMs = floor["read_ms_median"] as? Double ?? .nan
        print(
            "model \(model): \(ByteSize.format(floor["bytes"] as? Int ?? 0)); read floor (one pass from page cache) \(String(format: "%.1f", floorMs)) ms; \(tokens)-token prompt, \(results.threads) threads, medians of \(repeats)",
            to: &out)
        print(line(["configuration", "prefill ms", "vs llama.cpp", "decode ms", "vs llama.cpp", "vs floor", "peak RSS"]), to: &out)
        let peer = results.peer
        let peerPrefill = peer?["prefill_ms_median"] as? Double, peerDecode = peer?["decode_ms_median"] as? Double
        if let peer {
            print(
                line([
                    "llama.cpp \(peerCheckpoint == nil ? "GGUF" : "Q8_0") (\(peer["llama_cpp_python"] ?? "?"))",
                    ms(peerPrefill), "1.00x", ms(peerDecode), "1.00x", ratio(peerDecode, floorMs),
                    ByteSize.format(peer["peak_rss_bytes"] as? Int ?? 0),
                ]), to: &out)
        }
        for r in results.runs {
            let p = r["prefill_ms_median"] as? Double, d = r["decode_ms_median"] as? Double
            print(
                line([
                    r["config"] as? String ?? "", ms(p), ratio(p, peerPrefill), ms(d), ratio(d, peerDecode), ratio(d, floorMs),
                    ByteSize.format(r["peak_rss_bytes"] as? Int ?? 0),
                ]), to: &out)
        }
        print("(ratios are time / llama.cpp's time and decode / read floor: lower is better; RSS counts mapped weight pages once touched)", to: &out)
        print("prisms, 10 targets, every head x source and neuron (int8 route):", to: &out)
        for cost in results.prisms { writePrismCost(cost, to: &out) }
    }

    /// One prompt length's cost of the prisms, on two lines.
    static func writePrismCost<Out: TextOutputStream>(_ cost: [String: Any], to out: inout Out) {
        func median(_ key: String) -> Double { cost[key + "_median"] as? Double ?? .nan }
        print(
            String(
                format:
                    "  %d tokens: forward %.1f ms, forward recording activations %.1f ms, decomposition %.1f ms (pull-backs alone %.1f ms): %.0f%% on top of the forward pass;",
                cost["tokens"] as? Int ?? 0, median("forward_ms"), median("recording_forward_ms"), median("decompose_ms"), median("pullback_ms"),
                median("cost_percent")), to: &out)
        print(
            String(
                format: "     reusing the targets' pull-backs (a later prompt of a study or batch job): decomposition %.1f ms, %.0f%% on top",
                median("decompose_reusing_ms"), median("cost_reusing_percent")), to: &out)
    }

    /// A row: the configuration left-aligned in 34 characters, the six figures right-aligned.
    static func line(_ c: [String]) -> String {
        cell(c[0], 34) + zip(c.dropFirst(), [12, 13, 12, 13, 10, 11]).map { cell($0, $1, right: true) }.joined()
    }

    static func ms(_ t: Double?) -> String { String(format: "%.1f", t ?? .nan) }

    /// `a / b` as `1.23x`; `-` when either is missing or `b` is not positive.
    static func ratio(_ a: Double?, _ b: Double?) -> String {
        guard let a, let b, b > 0 else { return "-" }
        return String(format: "%.2fx", a / b)
    }
}

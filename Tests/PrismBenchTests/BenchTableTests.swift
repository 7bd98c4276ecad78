import XCTest

@testable import PrismBench

/// `prism bench`'s table from fake measurements: its columns, ratios, and what a missing figure prints.
final class BenchTableTests: XCTestCase {
    static let widths = [34, 12, 13, 12, 13, 10, 11]

    func results(peer: Bool) -> BenchResults {
        var r = BenchResults(threads: 3)
        r.readFloor = ["read_ms_median": 2.0, "bytes": 3 << 20]
        r.runs = [
            ["config": "int8 weights, int8 activations", "prefill_ms_median": 12.0, "decode_ms_median": 5.0, "peak_rss_bytes": 40 << 20],
            ["config": "broken child"],
        ]
        r.prisms = [
            [
                "tokens": 32, "forward_ms_median": 10.0, "recording_forward_ms_median": 11.0, "decompose_ms_median": 4.0,
                "pullback_ms_median": 1.5, "decompose_reusing_ms_median": 2.5, "cost_percent_median": 40.0, "cost_reusing_percent_median": 25.0,
            ]
        ]
        if peer { r.peer = ["prefill_ms_median": 6.0, "decode_ms_median": 4.0, "peak_rss_bytes": 20 << 20, "llama_cpp_python": "0.3.1"] }
        return r
    }

    func table(_ r: BenchResults, checkpoint: String? = "ckpt") -> [String] {
        var out = ""
        BenchTable.write(r, model: "m.prism", tokens: 32, repeats: 5, peerCheckpoint: checkpoint, to: &out)
        XCTAssertTrue(out.hasSuffix("\n"))
        return out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// A row's cells cut at the column widths, trimmed.
    func cells(_ line: String) -> [String] {
        var rest = Substring(line)
        return Self.widths.map { w in
            let c = rest.prefix(w)
            rest = rest.dropFirst(w)
            return c.trimmingCharacters(in: .whitespaces)
        }
    }

    func testRowsWithAPeerAreRatiosToItAndToTheFloor() {
        let lines = table(results(peer: true))
        XCTAssertEqual(
            lines[0], "model m.prism: 3.00 MiB; read floor (one pass from page cache) 2.0 ms; 32-token prompt, 3 threads, medians of 5")
        XCTAssertEqual(cells(lines[1]), ["configuration", "prefill ms", "vs llama.cpp", "decode ms", "vs llama.cpp", "vs floor", "peak RSS"])
        XCTAssertEqual(cells(lines[2]), ["llama.cpp Q8_0 (0.3.1)", "6.0", "1.00x", "4.0", "1.00x", "2.00x", "20.00 MiB"])
        XCTAssertEqual(cells(lines[3]), ["int8 weights, int8 activations", "12.0", "2.00x", "5.0", "1.25x", "2.50x", "40.00 MiB"])
        // Every row is as wide as the columns, figures right-aligned.
        for line in lines[1...4] { XCTAssertEqual(line.count, Self.widths.reduce(0, +), line) }
        XCTAssertTrue(lines[3].hasSuffix(" 40.00 MiB"))
        XCTAssertEqual(lines.count, 9)
    }

    func testMissingFiguresAndNoPeer() {
        let lines = table(results(peer: false), checkpoint: nil)
        XCTAssertFalse(lines.contains { $0.hasPrefix("llama.cpp") })
        XCTAssertEqual(cells(lines[2]), ["int8 weights, int8 activations", "12.0", "-", "5.0", "-", "2.50x", "40.00 MiB"])
        XCTAssertEqual(cells(lines[3]), ["broken child", "nan", "-", "nan", "-", "-", "0 B"])
        XCTAssertEqual(lines.count, 8)
    }

    func testAGGUFPeerWithoutACheckpointIsNamedSo() {
        XCTAssertTrue(table(results(peer: true), checkpoint: nil)[2].hasPrefix("llama.cpp GGUF (0.3.1)"))
    }

    func testPrismCostLines() {
        let lines = table(results(peer: false))
        XCTAssertEqual(lines[lines.count - 3], "prisms, 10 targets, every head x source and neuron (int8 route):")
        XCTAssertEqual(
            lines[lines.count - 2],
            "  32 tokens: forward 10.0 ms, forward recording activations 11.0 ms, decomposition 4.0 ms (pull-backs alone 1.5 ms): 40% on top of the forward pass;"
        )
        XCTAssertEqual(
            lines[lines.count - 1],
            "     reusing the targets' pull-backs (a later prompt of a study or batch job): decomposition 2.5 ms, 25% on top")
    }

    func testJSONKeepsEveryPart() {
        let json = results(peer: true).json
        XCTAssertEqual(Set(json.keys), ["runs", "read_floor", "prisms", "threads", "peer"])
        XCTAssertEqual((json["runs"] as? [[String: Any]])?.count, 2)
        XCTAssertNil(results(peer: false).json["peer"])
    }
}

import ArgumentParser
import Foundation
import PrismFormats
import PrismModel
import PrismOutputs
import PrismSupport

enum PrismFormatsFacade {
    static func open(_ path: String) throws -> ModelFile {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw PrismError("\(path) is a directory; verify and inspect take a converted .prism file")
        }
        return try ModelFile(path: path)
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a .prism file's config, tensors, encodings, sizes and quantization error.",
        discussion:
            "With --json, one object: {\"config\": {...}, \"weights\": .., \"tensors\": [{\"name\", \"shape\", \"encoding\", \"bytes\", \"quant_error\"}]}."
    )

    @Argument(help: "The .prism file.")
    var model: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        try CLI.guarded {
            let file = try PrismFormatsFacade.open(model)
            let config = try GemmaConfig.decode(Data(file.directory.config.utf8), source: "embedded config.json")
            if output.json { try printJSON(file) } else { try printTable(file, config: config) }
        }
    }

    /// `--json`: the header, the embedded config and every tensor as one object.
    func printJSON(_ file: ModelFile) throws {
        let dir = file.directory
        let tensors: [[String: Any]] = dir.tensors.map { t in
            var o: [String: Any] = [
                "name": t.name, "shape": t.shape, "encoding": t.encoding.rawValue,
                "bytes": t.parts.values.reduce(0) { $0 + $1.length }, "source_dtype": t.sourceDType,
            ]
            if let b = t.block { o["block"] = b }
            if let q = t.quantError { o["quant_error"] = ["rmse": q.rmse, "max_abs": q.maxAbs, "rel_rmse": q.relRMSE] }
            return o
        }
        // The embedded config was checked when the file was opened; a parse failure here is corruption.
        let cfg: Any
        do {
            cfg = try JSONSerialization.jsonObject(with: Data(dir.config.utf8))
        } catch {
            throw PrismError("\(model): the embedded config.json is not valid JSON")
        }
        try JSONOut.print([
            "file": model, "bytes": file.file.size, "format_version": "\(file.header.versionMajor).\(file.header.versionMinor)",
            "weights": dir.weights, "converter": dir.converter, "config": cfg,
            "tokenizer_bytes": dir.tokenizer?.length ?? 0, "tensors": tensors, "prism_version": PrismVersion.string,
        ])
    }

    /// The header, config and tokenizer lines, then a row per tensor (its quantization error beside it).
    func printTable(_ file: ModelFile, config: GemmaConfig) throws {
        let dir = file.directory
        print(
            "\(model): logit-prisms model v\(file.header.versionMajor).\(file.header.versionMinor), \(ByteSize.format(file.file.size)), weights \(dir.weights)"
        )
        print(
            "config: \(config.generation.displayName) (\(config.generation.rawValue)), \(config.numHiddenLayers) layers, d_model \(config.hiddenSize), \(config.numAttentionHeads) heads x \(config.headDim) (\(config.kvHeads) kv), mlp \(config.intermediateSize), vocab \(config.vocabSize), rope theta \(config.ropeTheta)"
                + InspectCommand.generationDetails(config)
        )
        if let provenance = try InspectCommand.ggufProvenance(dir.config) { print(provenance) }
        print("tokenizer: \(dir.tokenizer.map { ByteSize.format($0.length) } ?? "none")")
        print(cell("tensor", 48) + " " + cell("shape", 14) + " " + cell("enc", 5) + " " + cell("bytes", 10, right: true) + "  rel.rmse / max|err|")
        for t in dir.tensors {
            let bytes = t.parts.values.reduce(0) { $0 + $1.length }
            // A GGUF's Q8_0, Q5_0 and Q4_0 blocks are carried exactly: no error against the source.
            let carried = ["Q8_0", "Q5_0", "Q4_0"].contains(t.sourceDType) && t.encoding == .q8 && t.quantError?.maxAbs == 0
            let q =
                carried
                ? "exact (\(t.sourceDType) blocks carried)"
                : t.quantError.flatMap { $0.maxAbs > 0 ? String(format: "%.2e / %.2e", $0.relRMSE, $0.maxAbs) : nil } ?? "exact"
            let shape = t.shape.map(String.init).joined(separator: "x")
            print(
                cell(t.name, 48) + " " + cell(shape, 14) + " " + cell(t.encoding.rawValue, 5) + " " + cell(ByteSize.format(bytes), 10, right: true) + "  "
                    + q)
        }
    }
}

extension InspectCommand {
    /// What Gemma 2 and 3 add to the config line: attention scale, windows, soft-caps, RoPE bases.
    static func generationDetails(_ c: GemmaConfig) -> String {
        guard c.generation != .gemma1 else { return "" }
        var parts = ["query_pre_attn_scalar \(c.queryPreAttnScalar)"]
        let sliding = c.layerTypes.enumerated().filter { $0.element == .slidingAttention }.map(\.offset)
        if let w = c.slidingWindow, !sliding.isEmpty {
            parts.append("sliding window \(w) on \(sliding.count) of \(c.numHiddenLayers) layers")
        }
        if c.ropeSliding != c.ropeFull { parts.append("sliding-layer rope theta \(c.ropeSliding.theta)") }
        if c.ropeFull.type != "default" { parts.append("rope \(c.ropeFull.type) x\(c.ropeFull.factor)") }
        if let cap = c.attnLogitSoftcapping { parts.append("attention soft-cap \(cap)") }
        if let cap = c.finalLogitSoftcapping { parts.append("final soft-cap \(cap)") }
        return "\n        " + parts.joined(separator: ", ")
    }
}

extension InspectCommand {
    /// For a file converted from a GGUF: where from, and each value the GGUF does not store that
    /// the conversion took from the architecture's rules (`prism_gguf_defaults`).
    static func ggufProvenance(_ configText: String) throws -> String? {
        guard let obj = try JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any],
            let source = obj["prism_source"] as? [String: Any]
        else { return nil }
        var lines = ["converted from \(source["format"] ?? "?") \(source["file"] ?? "?") (\(source["general.name"] ?? ""))"]
        if let defaults = obj["prism_gguf_defaults"] as? [String: String], !defaults.isEmpty {
            lines.append("not in the GGUF, taken from the architecture's rules:")
            for (k, v) in defaults.sorted(by: { $0.key < $1.key }) { lines.append("  \(k) = \(v)") }
        }
        return lines.joined(separator: "\n")
    }
}

import ArgumentParser
import Foundation
import PrismConvert
import PrismSupport

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Gemma checkpoint (Hugging Face directory or llama.cpp GGUF) into one memory-mappable .prism file.",
        discussion: """
            From a Hugging Face directory: reads config.json, model.safetensors or the shards of \
            model.safetensors.index.json (BF16, F16 or F32) and tokenizer.json. From a GGUF (gemma, gemma2, \
            gemma3 as llama.cpp writes them): reads the metadata, the SentencePiece vocabulary and the \
            tensors (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K to Q6_K); Q8_0, Q5_0 and Q4_0 \
            blocks (integers times one f16 scale per 32) are carried into int8 exactly, the others \
            dequantized and stored as --weights asks.

            Writes int8 weights with one f16 scale per 32 inputs (default), norm weights in f32, the \
            config and tokenizer embedded, every byte checksummed (docs/FORMAT.md). It streams tensor by \
            tensor: memory stays far below the checkpoint's size, and nothing appears under OUTPUT until \
            the file is complete.

            A NaN or inf weight is an error naming the tensor and its row and column, unless \
            --allow-non-finite. A matrix int8 cannot hold (a block's max |w| / 127 beyond f16's 65504, \
            i.e. |w| above about 8.3e6, or NaN/inf) is stored unquantized instead, in bf16 from a bf16 \
            checkpoint and in f32 otherwise; the summary lists such tensors and why.

            Examples:
              prism convert ~/gemma-2b -o gemma-2b.prism
              prism convert models/gemma-3-270m-q4_k_m.gguf -o models/gemma-3-270m.prism
            """
    )

    @Argument(help: "The Hugging Face checkpoint directory, or a GGUF file.")
    var input: String

    @Option(name: [.short, .customLong("output")], help: "The .prism file to write.")
    var output: String

    @Option(help: "Weight encoding of the matrices: int8 (blocks of 32, f16 scales), bf16 or f32.")
    var weights: String = "int8"

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    @Flag(help: "No progress and no summary: only the line naming the file written.")
    var quiet = false

    @Flag(
        help:
            "Convert a checkpoint holding NaN or inf weights anyway: they are stored as they are (matrices unquantized) and listed in the summary. Without it the first one is an error naming the tensor and its position."
    )
    var allowNonFinite = false

    func validate() throws {
        guard Converter.Weights(rawValue: weights) != nil else {
            throw ValidationError("--weights must be one of int8, bf16, f32 (got '\(weights)')")
        }
    }

    func run() throws {
        try CLI.guarded {
            var c = Converter()
            c.weights = Converter.Weights(rawValue: weights) ?? .int8
            c.force = force
            c.showProgress = !quiet
            c.allowNonFinite = allowNonFinite
            let s = try c.convert(input: input, output: output)
            print("wrote \(s.output): \(ByteSize.format(s.outputBytes)) from \(ByteSize.format(s.sourceBytes)) in \(String(format2: s.seconds)) s")
            // Tensors kept unquantized or holding NaN/inf are said even when quiet: they change what the file is.
            for k in s.kept { print("kept in \(k.encoding.rawValue), not \(weights): \(k.name): \(k.reason)") }
            for n in s.nonFinite { print("non-finite values kept: \(n.name): \(n.count) (\(n.nans) NaN, \(n.infs) inf)") }
            if s.noTokenizer {
                print("note: no tokenizer.json beside the checkpoint: the file has no tokenizer, so commands take token ids (--ids), not text")
            }
            if !s.skipped.isEmpty {
                print(
                    "skipped \(s.skipped.count) tensors of the vision tower and projector (the file holds the text model): \(s.skipped.prefix(3).joined(separator: ", "))\(s.skipped.count > 3 ? ", ..." : "")"
                )
            }
            guard !quiet else { return }
            print("kind        tensors  source      stored      rel.rmse   lz4 (as is / byte-grouped), on a sample")
            for k in s.kinds {
                let lz = k.lz4Sampled > 0 ? "\(pct(k.lz4Compressed, k.lz4Sampled)) / \(pct(k.lz4GroupedCompressed, k.lz4Sampled))" : "-"
                let rel = k.quant.count > 0 && k.quant.relRMSE > 0 ? String(format: "%.2e", k.quant.relRMSE) : "exact"
                print(
                    cell(k.kind, 10) + " " + cell("\(k.tensors)", 8, right: true) + "  " + cell(ByteSize.format(k.sourceBytes), 10) + "  "
                        + cell(ByteSize.format(k.storedBytes), 10) + "  " + cell(rel, 9) + "  " + lz)
            }
            print("LZ4 is not applied to the model file: tensors stay zero-copy mappable (see docs/FORMAT.md).")
        }
    }

    private func pct(_ a: Int, _ b: Int) -> String { "\(Int((Double(a) / Double(b) * 100).rounded()))%" }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every checksum of a .prism file; name the first bad tensor.",
        discussion: "Exit code 0 when every byte checks out, 1 otherwise."
    )

    @Argument(help: "The .prism file.")
    var model: String

    func run() throws {
        try CLI.guarded {
            let file = try PrismFormatsFacade.open(model)
            if let problem = file.verify() {
                throw PrismError("\(model): \(problem)")
            }
            print("\(model): OK (\(file.directory.tensors.count) tensors, \(ByteSize.format(file.file.size)), all checksums match)")
        }
    }
}

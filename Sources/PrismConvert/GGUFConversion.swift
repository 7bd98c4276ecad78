import Foundation
import PrismFormats
import PrismKernels
import PrismModel
import PrismSupport
import PrismTokenizer

extension Converter {
    /// Whether `path` is a GGUF file (by its magic, whatever its name).
    public static func isGGUF(_ path: String) -> Bool { starts(path, with: Array("GGUF".utf8)) }

    /// Whether the file at `path` begins with `magic` (false for one that cannot be read).
    static func starts(_ path: String, with magic: [UInt8]) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }  // closing a read-only handle: nothing to lose
        return h.readData(ofLength: magic.count) == Data(magic)
    }

    /// Converts a Gemma GGUF (llama.cpp's `gemma`, `gemma2` or `gemma3`) into a `.prism` file:
    /// tensors under their Hugging Face names, llama.cpp's `1 + w` norms turned back into `w`,
    /// Q8_0, Q5_0 and Q4_0 blocks carried over exactly when the output is int8 (a block of 32
    /// integers and one f16 scale, `x = d q`, is this file's int8 encoding: the integers and the
    /// scale are copied, not re-rounded), other ggml types (with a per-block minimum, or the K
    /// types' sub-block scales) dequantized a slab of rows at a time and stored as `weights` asks
    /// (int8 from them is a second rounding, reported per tensor against the dequantized source),
    /// the SentencePiece vocabulary rebuilt as Hugging Face's tokenizer, and the configuration
    /// rebuilt from the metadata with the defaults it used recorded.
    /// - Throws: `PrismError` for a bad or unsupported GGUF, an output that may not be written,
    ///   or a tensor of a ggml type this tool cannot dequantize.
    public func convert(gguf input: String, output: String) throws -> Summary {
        let start = Date()
        try Outputs.checkFile(output, force: force, inputs: [input])
        let file = try GGUFFile(path: input)
        let gemma = try GGUFGemma(file)
        let config = gemma.config
        for (name, t) in gemma.tensors where !t.type.canDequantize {
            throw PrismError(
                "\(input): tensor \(name) has ggml type \(t.type.name), which this tool cannot read (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K to Q6_K)"
            )
        }
        let vocabulary = try Self.sentencePieceVocabulary(file, vocabSize: config.vocabSize)
        let tokenizerJSON = try vocabulary.tokenizerJSON()

        let order = GemmaTensorNames.ordered(config)
        let writer = try ModelFileWriter(output: output, force: force)
        let tally = try writeTensors(order, sourceBytes: { gemma.tensors[$0]?.byteCount }, writer: writer) { name, stats in
            guard let info = gemma.tensors[name] else { return nil }
            if Self.carriesExactly(info.type), info.shape.count == 2, encoding(for: info.shape) == .q8, blockSize == 32,
                let carried = try carryBlocks(info, file: file, name: name, writer: writer, stats: &stats)
            {
                return (carried, Quantize.NonFinite(), nil)
            }
            return try writeTensorFitting(try Self.view(info, file: file, name: name), shape: info.shape, writer: writer, stats: &stats)
        }
        let tokPart = try writer.part(bytes: tokenizerJSON)
        let dir = ModelFileFormat.Directory(
            architecture: config.generation.causalLMClass, config: try Self.configText(gemma, source: input), tokenizer: tokPart,
            converter: Self.version, weights: weights.rawValue, tensors: tally.entries)
        // A GGUF rewritten in place while it was read would give a file of mixed weights.
        try file.file.checkUnchanged()
        try writer.finish(directory: dir)
        return tally.summary(output: output, since: start)
    }

    /// A zero-copy view of a GGUF tensor; a norm weight is read into memory with llama.cpp's
    /// added 1 taken off (what transformers' GGUF loader does too).
    static func view(_ info: GGUFTensorInfo, file: GGUFFile, name: String) throws -> TensorView {
        let bytes = file.bytes(of: info)
        if GGUFGemma.isNorm(name) {
            let w = try file.floats(of: info).map { $0 - 1 }
            let owned = OwnedBytes(w)
            return TensorView(name: name, dtype: .f32, shape: info.shape, bytes: owned.bytes, owner: owned)
        }
        switch info.type {
        case .F32: return TensorView(name: name, dtype: .f32, shape: info.shape, bytes: bytes, owner: file.file)
        case .F16: return TensorView(name: name, dtype: .f16, shape: info.shape, bytes: bytes, owner: file.file)
        case .BF16: return TensorView(name: name, dtype: .bf16, shape: info.shape, bytes: bytes, owner: file.file)
        default: return TensorView(name: name, dtype: .u8, shape: info.shape, bytes: bytes, owner: file.file, quantization: info.type)
        }
    }

    /// The ggml types whose blocks are `x = d q` with one f16 `d` per 32 values and integer
    /// `q` within int8: Q8_0 (q in -128..127), Q5_0 (5 bits less 16: -16..15), Q4_0 (4 bits less
    /// 8: -8..7). Q4_1 and Q5_1 add a per-block minimum, the K types scale sub-blocks of 16 or
    /// 32 by 6-bit factors: none of those fits one f16 scale per 32 integers.
    public static func carriesExactly(_ type: GGMLType) -> Bool { type == .Q8_0 || type == .Q5_0 || type == .Q4_0 }

    /// A Q8_0, Q5_0 or Q4_0 tensor (see `carriesExactly`) is this file's int8 encoding split in
    /// two parts: the blocks' integers and their f16 scales are copied, not re-rounded, so every
    /// dequantized value equals the GGUF's. Returns nil (the caller dequantizes instead) when a
    /// scale is not finite.
    func carryBlocks(
        _ info: GGUFTensorInfo, file: GGUFFile, name: String, writer: ModelFileWriter, stats: inout KindStats
    ) throws -> ModelFileFormat.TensorEntry? {
        let rows = info.shape[0], cols = info.shape[1], bs = 32, blockBytes = info.type.typeSize
        let blocks = cols / bs
        guard cols % bs == 0 else { return nil }
        let bytes = file.bytes(of: info)
        guard let base = bytes.baseAddress, bytes.count == rows * blocks * blockBytes else { return nil }
        var scales = [UInt16](repeating: 0, count: rows * blocks)
        for b in 0..<(rows * blocks) {
            let d = base.loadUnaligned(fromByteOffset: b * blockBytes, as: UInt16.self).littleEndian
            guard Float(Float16(bitPattern: d)).isFinite else { return nil }
            scales[b] = d
        }
        var entry = ModelFileFormat.TensorEntry(
            name: name, shape: info.shape, encoding: .q8, block: bs, sourceDType: info.type.name, parts: [:], quantError: nil)
        let lengths = try ModelFileFormat.expectedPartLengths(entry)
        let slabRows = max(1, min(rows, (1 << 22) / max(1, cols)))
        let quants = UnsafeMutablePointer<Int8>.allocate(capacity: slabRows * cols)
        defer { quants.deallocate() }
        var sample: [UInt8] = []
        entry.parts["data"] = try writer.part(length: lengths["data"] ?? 0) { sink in
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + slabRows)
                for b in (r0 * blocks)..<(r1 * blocks) {
                    GGMLDequantize.blockIntegers(
                        info.type, (base + b * blockBytes).assumingMemoryBound(to: UInt8.self), into: quants + (b - r0 * blocks) * bs)
                }
                let chunk = UnsafeRawBufferPointer(start: quants, count: (r1 - r0) * cols)
                if sample.count < Self.lz4SampleBytes { sample += chunk.prefix(Self.lz4SampleBytes - sample.count) }
                try sink(chunk)
                file.file.release(UnsafeRawBufferPointer(rebasing: bytes[(r0 * blocks * blockBytes)..<(r1 * blocks * blockBytes)]))
                r0 = r1
            }
        }
        entry.parts["scales"] = try writer.part(length: lengths["scales"] ?? 0) { sink in try scales.withUnsafeBytes { try sink($0) } }
        // Carried bit for bit: no error against the source.
        entry.quantError = ModelFileFormat.QuantError(rmse: 0, maxAbs: 0, relRMSE: 0)
        stats.storedBytes += entry.parts.values.reduce(0) { $0 + $1.length }
        stats.lz4Sampled += sample.count
        stats.lz4Compressed += LZ4.compress(sample).count
        stats.lz4GroupedCompressed += LZ4.compress(sample).count
        return entry
    }

    /// The GGUF's SentencePiece vocabulary (`tokenizer.ggml.*`), to be rendered as Hugging
    /// Face's tokenizer. - Throws: for a tokenizer model other than SentencePiece ("llama"),
    /// merges (a BPE tokenizer this tool does not rebuild), or arrays that disagree.
    static func sentencePieceVocabulary(_ file: GGUFFile, vocabSize: Int) throws -> SentencePieceVocabulary {
        let model = try file.string("tokenizer.ggml.model")
        guard model == "llama" else {
            throw PrismError("\(file.path): tokenizer.ggml.model '\(model)' is not supported (Gemma GGUFs hold a SentencePiece vocabulary, 'llama')")
        }
        if file.metadata["tokenizer.ggml.merges"] != nil {
            throw PrismError("\(file.path): tokenizer.ggml.merges is present; Gemma's SentencePiece vocabulary has none")
        }
        let pieces = try file.stringArray("tokenizer.ggml.tokens")
        guard pieces.count == vocabSize else {
            throw PrismError("\(file.path): \(pieces.count) tokens but token_embd.weight has \(vocabSize) rows")
        }
        let types = try file.intArray("tokenizer.ggml.token_type").map { Int32(clamping: $0) }
        return try SentencePieceVocabulary(
            pieces: pieces, scores: try file.floatArray("tokenizer.ggml.scores"), types: types,
            bosId: try file.intIfPresent("tokenizer.ggml.bos_token_id"), eosId: try file.intIfPresent("tokenizer.ggml.eos_token_id"),
            unkId: try file.intIfPresent("tokenizer.ggml.unknown_token_id"), padId: try file.intIfPresent("tokenizer.ggml.padding_token_id"),
            // transformers assumes a BOS for a SentencePiece GGUF that does not say.
            addBOS: try file.boolIfPresent("tokenizer.ggml.add_bos_token") ?? true,
            addEOS: try file.boolIfPresent("tokenizer.ggml.add_eos_token") ?? false)
    }

    /// The config.json stored in the converted file: the rebuilt config in transformers 5's form,
    /// plus where it came from and each default it took (`inspect` shows them).
    static func configText(_ g: GGUFGemma, source: String) throws -> String {
        guard var obj = try JSONSerialization.jsonObject(with: Data(g.config.jsonText().utf8)) as? [String: Any] else {
            throw PrismError("internal: the rebuilt config is not a JSON object")
        }
        obj["prism_source"] =
            [
                "format": "gguf", "file": PathNames.lastComponent(of: source),
                "general.name": (try g.file.stringIfPresent("general.name")) ?? "",
                "general.file_type": (try g.file.intIfPresent("general.file_type")) ?? -1,
            ] as [String: Any]
        obj["prism_gguf_defaults"] = g.defaultsUsed
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Bytes owned by a view (a GGUF norm with its added 1 taken off), freed with the last view.
final class OwnedBytes {
    let storage: UnsafeMutableRawBufferPointer
    let count: Int
    init(_ values: [Float]) {
        count = values.count * 4
        storage = .allocate(byteCount: max(4, count), alignment: 16)
        values.withUnsafeBytes { storage.copyMemory(from: $0) }
    }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }
    deinit { storage.deallocate() }
}

import Foundation
import PrismFormats
import PrismKernels
import PrismModel
import PrismSupport

/// Converts a Hugging Face Gemma checkpoint into one `.prism` file, tensor by tensor:
/// each source tensor is read from its mapping a slab of rows at a time, encoded, hashed,
/// written, and its source pages released, so memory stays far below the checkpoint's size.
public struct Converter {
    public enum Weights: String, CaseIterable, Sendable {
        case int8, bf16, f32
    }

    public var weights: Weights = .int8
    public var blockSize = 32
    public var force = false
    public var showProgress = true
    public static let version = "prism convert 1"

    public init() {}

    public struct KindStats {
        public var kind: String
        public var tensors = 0
        public var sourceBytes = 0
        public var storedBytes = 0
        /// LZ4 measured on a sample of the stored bytes (and on the byte-grouped sample for 16-bit data).
        public var lz4Sampled = 0
        public var lz4Compressed = 0
        public var lz4GroupedCompressed = 0
        public var quant = Quantize.ErrorStats()
    }

    public struct Summary {
        public var output: String
        public var outputBytes: Int
        public var sourceBytes: Int
        public var seconds: Double
        public var kinds: [KindStats]
    }

    /// Bytes of each stored tensor LZ4 is tried on: enough to measure, cheap to compute.
    static let lz4SampleBytes = 1 << 20

    public func convert(input: String, output: String) throws -> Summary {
        let start = Date()
        try Outputs.checkFile(output, force: force, inputs: [input])
        let configPath = input + "/config.json"
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw PrismError("\(input): missing config.json")
        }
        let config = try GemmaConfig.decode(configData, source: configPath)
        let checkpoint = try SafeTensorsCheckpoint(directory: input)
        let shapes = try GemmaTensorNames.check(checkpoint, config: config)
        let tokenizer = FileManager.default.contents(atPath: input + "/tokenizer.json").map { [UInt8]($0) }
        try Outputs.checkFile(output, force: force, inputs: [input, configPath, input + "/tokenizer.json"] + checkpoint.shards.map(\.file.path))

        let order = GemmaTensorNames.ordered(config)
        let totalSource = order.reduce(0) { $0 + (checkpoint.entry($1)?.range.count ?? 0) }
        let progress = Progress(label: "convert", total: totalSource)
        progress.quiet = !showProgress
        let writer = try ModelFileWriter(output: output, force: force)
        var entries: [ModelFileFormat.TensorEntry] = []
        var kinds: [String: KindStats] = [:]
        var done = 0
        for name in order {
            guard let view = checkpoint.view(name), let shape = shapes[name] else { continue }
            let kind = GemmaTensorNames.kind(name)
            var stats = kinds[kind] ?? KindStats(kind: kind)
            let entry = try writeTensor(view, shape: shape, writer: writer, stats: &stats)
            entries.append(entry)
            stats.tensors += 1
            stats.sourceBytes += view.bytes.count
            kinds[kind] = stats
            done += view.bytes.count
            progress.update(done)
        }
        progress.finish()
        let tokPart = try tokenizer.map { try writer.part(bytes: $0) }
        let configText = String(decoding: configData, as: UTF8.self)
        let dir = ModelFileFormat.Directory(architecture: "GemmaForCausalLM", config: configText, tokenizer: tokPart,
                                            converter: Self.version, weights: weights.rawValue, tensors: entries)
        // A shard rewritten in place while it was read would give a file of mixed weights.
        for shard in checkpoint.shards { try shard.file.checkUnchanged() }
        try writer.finish(directory: dir)
        let outBytes = ((try? FileManager.default.attributesOfItem(atPath: output))?[.size] as? Int) ?? 0
        return Summary(output: output, outputBytes: outBytes, sourceBytes: totalSource,
                       seconds: Date().timeIntervalSince(start), kinds: kinds.values.sorted { $0.kind < $1.kind })
    }

    func encoding(for shape: [Int]) -> ModelFileFormat.Encoding {
        // Norm gains (1-D) stay f32: they are tiny and every logit depends on them.
        guard shape.count == 2 else { return .f32 }
        switch weights {
        case .int8: return .q8
        case .bf16: return .bf16
        case .f32: return .f32
        }
    }

    func writeTensor(_ view: TensorView, shape: [Int], writer: ModelFileWriter, stats: inout KindStats) throws -> ModelFileFormat.TensorEntry {
        let enc = encoding(for: shape)
        let rows = shape.count == 2 ? shape[0] : 1
        let cols = shape.count == 2 ? shape[1] : shape.reduce(1, *)
        let block = enc == .q8 ? blockSize : nil
        var entry = ModelFileFormat.TensorEntry(name: view.name, shape: shape, encoding: enc, block: block,
                                                sourceDType: view.dtype.rawValue, parts: [:], quantError: nil)
        let lengths = try ModelFileFormat.expectedPartLengths(entry)
        // A slab of about 4 MiB of f32 at a time.
        let slabRows = max(1, min(rows, (1 << 20) / max(1, cols)))
        let f32 = UnsafeMutablePointer<Float>.allocate(capacity: slabRows * cols)
        defer { f32.deallocate() }
        var sample: [UInt8] = []
        func keepSample(_ chunk: UnsafeRawBufferPointer) {
            let room = Self.lz4SampleBytes - sample.count
            if room > 0 { sample += chunk.prefix(room) }
        }
        let source = view.owner as? MappedFile
        let elementBytes = view.dtype.byteSize
        func slabs(_ body: (Int, Int) throws -> Void) rethrows {
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + slabRows)
                Self.widen(view, from: r0 * cols, count: (r1 - r0) * cols, into: f32)
                try body(r0, r1)
                // Drop the source pages just read: resident memory stays at a slab, not a tensor
                // (gemma-2b's embedding alone is 1 GB of bf16).
                source?.release(UnsafeRawBufferPointer(rebasing: view.bytes[(r0 * cols * elementBytes)..<(r1 * cols * elementBytes)]))
                r0 = r1
            }
        }
        var qstats = Quantize.ErrorStats()
        switch enc {
        case .f32:
            entry.parts["data"] = try writer.part(length: lengths["data"] ?? 0) { sink in
                try slabs { r0, r1 in
                    let chunk = UnsafeRawBufferPointer(start: f32, count: (r1 - r0) * cols * 4)
                    keepSample(chunk)
                    try sink(chunk)
                }
            }
        case .bf16, .f16:
            let out = UnsafeMutablePointer<UInt16>.allocate(capacity: slabRows * cols)
            defer { out.deallocate() }
            entry.parts["data"] = try writer.part(length: lengths["data"] ?? 0) { sink in
                try slabs { r0, r1 in
                    let n = (r1 - r0) * cols
                    for i in 0..<n {
                        out[i] = enc == .bf16 ? Quantize.bf16(f32[i]) : Float16(f32[i]).bitPattern
                        let back = enc == .bf16 ? Float(bitPattern: UInt32(out[i]) << 16) : Float(Float16(bitPattern: out[i]))
                        let err = Double(f32[i]) - Double(back)
                        qstats.sumSquaredError += err * err
                        qstats.sumSquared += Double(f32[i]) * Double(f32[i])
                        qstats.maxAbs = max(qstats.maxAbs, abs(err))
                    }
                    qstats.count += n
                    let chunk = UnsafeRawBufferPointer(start: out, count: n * 2)
                    keepSample(chunk)
                    try sink(chunk)
                }
            }
        case .q8:
            let bs = blockSize
            let blocks = (cols + bs - 1) / bs
            let quants = UnsafeMutablePointer<Int8>.allocate(capacity: slabRows * cols)
            defer { quants.deallocate() }
            // Scales are 1/16 of the quants' size: kept until the data part is written.
            var scales = [UInt16](repeating: 0, count: rows * blocks)
            try scales.withUnsafeMutableBufferPointer { sp in
                entry.parts["data"] = try writer.part(length: lengths["data"] ?? 0) { sink in
                    try slabs { r0, r1 in
                        // Both cores quantize: half of the slab's rows each.
                        let parts = min(2, r1 - r0)
                        var partStats = [Quantize.ErrorStats](repeating: .init(), count: parts)
                        partStats.withUnsafeMutableBufferPointer { ps in
                            DispatchQueue.concurrentPerform(iterations: parts) { t in
                                let a = r0 + (r1 - r0) * t / parts, b = r0 + (r1 - r0) * (t + 1) / parts
                                for r in a..<b {
                                    Quantize.row(f32 + (r - r0) * cols, cols: cols, blockSize: bs, quants: quants + (r - r0) * cols,
                                                 scales: sp.baseAddress! + r * blocks, stats: &ps[t])
                                }
                            }
                        }
                        for st in partStats { qstats.merge(st) }
                        let chunk = UnsafeRawBufferPointer(start: quants, count: (r1 - r0) * cols)
                        keepSample(chunk)
                        try sink(chunk)
                    }
                }
            }
            entry.parts["scales"] = try writer.part(length: lengths["scales"] ?? 0) { sink in
                try scales.withUnsafeBytes { try sink($0) }
            }
        }
        if enc != .f32 {
            entry.quantError = ModelFileFormat.QuantError(rmse: qstats.rmse, maxAbs: qstats.maxAbs, relRMSE: qstats.relRMSE)
            stats.quant.merge(qstats)
        }
        stats.storedBytes += entry.parts.values.reduce(0) { $0 + $1.length }
        stats.lz4Sampled += sample.count
        stats.lz4Compressed += LZ4.compress(sample).count
        stats.lz4GroupedCompressed += LZ4.compress(Self.byteGrouped(sample, width: enc == .f32 ? 4 : (enc == .q8 ? 1 : 2))).count
        return entry
    }

    /// Source elements `[start, start + count)` as f32.
    static func widen(_ view: TensorView, from start: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        guard let base = view.bytes.baseAddress else { return }
        switch view.dtype {
        case .f32: out.update(from: base.assumingMemoryBound(to: Float.self) + start, count: count)
        case .bf16: Convert.bf16ToF32(base.assumingMemoryBound(to: UInt16.self) + start, out, count: count)
        case .f16: Convert.f16ToF32(base.assumingMemoryBound(to: UInt16.self) + start, out, count: count)
        default: for i in 0..<count { out[i] = view.float(at: start + i) }
        }
    }

    /// Byte planes: all first bytes of each element, then all second bytes... Exponent bytes
    /// of floats repeat a lot, which is what gives LZ4 something to find.
    static func byteGrouped(_ bytes: [UInt8], width: Int) -> [UInt8] {
        guard width > 1 else { return bytes }
        let n = bytes.count / width
        var out = [UInt8](repeating: 0, count: n * width)
        for i in 0..<n { for b in 0..<width { out[b * n + i] = bytes[i * width + b] } }
        return out
    }
}

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
    /// Convert a checkpoint holding NaN or inf weights anyway (they are stored as they are, and
    /// listed in the summary); without it the first one is an error naming tensor and position.
    public var allowNonFinite = false
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

    /// A matrix stored in another encoding than `weights` asked for, and why.
    public struct KeptTensor: Sendable {
        public var name: String
        public var encoding: ModelFileFormat.Encoding
        public var reason: String
    }

    /// A tensor holding NaN or inf values (converted with `allowNonFinite`).
    public struct NonFiniteTensor: Sendable {
        public var name: String
        public var count: Int
        public var nans: Int
        public var infs: Int { count - nans }
    }

    public struct Summary {
        public var output: String
        public var outputBytes: Int
        public var sourceBytes: Int
        public var seconds: Double
        public var kinds: [KindStats]
        /// Matrices kept unquantized (int8 could not hold them): empty for ordinary checkpoints.
        public var kept: [KeptTensor] = []
        /// Tensors with NaN or inf values, in file order: empty unless `allowNonFinite`.
        public var nonFinite: [NonFiniteTensor] = []
        /// Tensors of a multimodal checkpoint's vision tower and projector, not converted (the
        /// file holds the text model).
        public var skipped: [String] = []
        /// The checkpoint had no tokenizer.json: the file takes token ids only.
        public var noTokenizer = false
    }

    /// Thrown while a tensor is being written when its values do not fit the encoding chosen
    /// (int8 scale overflow, NaN/inf in int8, a finite value beyond bf16): the converter rewinds
    /// the output and writes the tensor again in `encoding`.
    struct Unrepresentable: Error {
        var encoding: ModelFileFormat.Encoding
        var reason: String
    }

    /// Bytes of each stored tensor LZ4 is tried on: enough to measure, cheap to compute.
    static let lz4SampleBytes = 1 << 20

    /// Converts a Hugging Face checkpoint directory or a GGUF file (see `convert(gguf:output:)`).
    public func convert(input: String, output: String) throws -> Summary {
        // A FIFO or a device: reading its magic below would wait for a writer.
        var st = stat()
        if stat(input, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR, (st.st_mode & S_IFMT) != S_IFREG {
            throw PrismError("\(input) is not a regular file (a pipe or a device); give a checkpoint directory or a GGUF file")
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isDir), !isDir.boolValue {
            guard Self.isGGUF(input) else {
                if Self.starts(input, with: ModelFileFormat.magic) {
                    throw PrismError("\(input) is already a converted model: give it to the other commands with -m")
                }
                throw PrismError("\(input) is neither a checkpoint directory nor a GGUF file")
            }
            return try convert(gguf: input, output: output)
        }
        guard FileManager.default.fileExists(atPath: input) else { throw PrismError("\(input) does not exist") }
        let start = Date()
        try Outputs.checkFile(output, force: force, inputs: [input])
        let configPath = input + "/config.json"
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw PrismError("\(input): missing config.json")
        }
        let config = try GemmaConfig.decode(configData, source: configPath)
        let checkpoint = try SafeTensorsCheckpoint(directory: input)
        let (shapes, naming) = try GemmaTensorNames.check(checkpoint, config: config)
        let tokenizerPath = input + "/tokenizer.json"
        var tst = stat()
        if lstat(tokenizerPath, &tst) == 0, (tst.st_mode & S_IFMT) != S_IFREG, stat(tokenizerPath, &tst) != 0 || (tst.st_mode & S_IFMT) != S_IFREG {
            throw PrismError("\(tokenizerPath) is not a regular file (a pipe, a device or a broken link)")
        }
        let tokenizer = FileManager.default.contents(atPath: tokenizerPath).map { [UInt8]($0) }
        if tokenizer == nil, FileManager.default.fileExists(atPath: tokenizerPath) { throw PrismError("cannot read \(tokenizerPath)") }
        try Outputs.checkFile(output, force: force, inputs: [input, configPath, input + "/tokenizer.json"] + checkpoint.shards.map(\.file.path))

        let order = GemmaTensorNames.ordered(config)
        let writer = try ModelFileWriter(output: output, force: force)
        let tally = try writeTensors(order, sourceBytes: { checkpoint.entry(naming.actual($0))?.range.count }, writer: writer) { name, stats in
            guard let view = checkpoint.view(naming.actual(name)), let shape = shapes[name] else { return nil }
            return try writeTensorFitting(view, shape: shape, writer: writer, stats: &stats)
        }
        let tokPart = try tokenizer.map { try writer.part(bytes: $0) }
        // A multimodal wrapper's file keeps only its text model: store that model's resolved config.
        let configText = naming.prefix == "model." ? String(decoding: configData, as: UTF8.self) : try config.jsonText()
        let dir = ModelFileFormat.Directory(
            architecture: config.generation.causalLMClass, config: configText, tokenizer: tokPart,
            converter: Self.version, weights: weights.rawValue, tensors: tally.entries)
        // A shard rewritten in place while it was read would give a file of mixed weights.
        for shard in checkpoint.shards { try shard.file.checkUnchanged() }
        try writer.finish(directory: dir)
        var summary = tally.summary(output: output, since: start)
        summary.skipped = naming.skipped
        summary.noTokenizer = tokenizer == nil
        return summary
    }

    /// What a conversion wrote, tensor by tensor, for its summary.
    struct Tally {
        var entries: [ModelFileFormat.TensorEntry] = []
        var kinds: [String: KindStats] = [:]
        var kept: [KeptTensor] = []
        var nonFinite: [NonFiniteTensor] = []
        var sourceBytes = 0

        func summary(output: String, since start: Date) -> Summary {
            let outBytes = ((try? FileManager.default.attributesOfItem(atPath: output))?[.size] as? Int) ?? 0  // only for the summary line
            return Summary(
                output: output, outputBytes: outBytes, sourceBytes: sourceBytes, seconds: Date().timeIntervalSince(start),
                kinds: kinds.values.sorted { $0.kind < $1.kind }, kept: kept, nonFinite: nonFinite)
        }
    }

    /// Writes the tensors of `order` (canonical names) with `write`, which returns the entry, the
    /// tensor's non-finite values and why it was not stored as asked (nil: no such tensor, skipped),
    /// and tallies them per kind with progress over the source bytes.
    func writeTensors(
        _ order: [String], sourceBytes: (String) -> Int?, writer: ModelFileWriter,
        _ write: (String, inout KindStats) throws -> (ModelFileFormat.TensorEntry, Quantize.NonFinite, String?)?
    ) throws -> Tally {
        var tally = Tally()
        tally.sourceBytes = order.reduce(0) { $0 + (sourceBytes($1) ?? 0) }
        // A bar at once on a terminal; in a log, lines only once a conversion has run 5 s (a
        // small model's conversion printed a handful of lines for a hundredth of a second).
        let progress = Progress.delayed(label: "convert", total: tally.sourceBytes, unit: "B", terminalDelay: 0, logDelay: 5)
        progress.quiet = !showProgress
        var done = 0
        for name in order {
            let kind = GemmaTensorNames.kind(name)
            var stats = tally.kinds[kind] ?? KindStats(kind: kind)
            guard let (written, bad, why) = try write(name, &stats) else { continue }
            var entry = written
            entry.name = name  // the canonical name, whatever the source called it
            if let why { tally.kept.append(KeptTensor(name: name, encoding: entry.encoding, reason: why)) }
            if bad.count > 0 { tally.nonFinite.append(NonFiniteTensor(name: name, count: bad.count, nans: bad.nans)) }
            tally.entries.append(entry)
            stats.tensors += 1
            stats.sourceBytes += sourceBytes(name) ?? 0
            tally.kinds[kind] = stats
            done += sourceBytes(name) ?? 0
            progress.update(done)
        }
        progress.finish()
        return tally
    }

    /// Writes a tensor in the encoding `weights` asks for or, when its values do not fit it, in
    /// an exact one (see `exactEncoding`): the first attempt is cut off the output and redone,
    /// which costs nothing for ordinary checkpoints.
    /// - Returns: the entry, the tensor's non-finite values, and why it was not stored as asked (nil if it was).
    func writeTensorFitting(
        _ view: TensorView, shape: [Int], writer: ModelFileWriter, stats: inout KindStats
    ) throws
        -> (ModelFileFormat.TensorEntry, Quantize.NonFinite, String?)
    {
        let mark = writer.position
        var enc = encoding(for: shape)
        var why: String?
        // Each retry moves towards f32 (q8 -> bf16 -> f32), which holds every value: at most two.
        while true {
            var attempt = stats
            do {
                let (entry, bad) = try writeTensor(view, shape: shape, encoding: enc, writer: writer, stats: &attempt)
                stats = attempt
                return (entry, bad, why)
            } catch let u as Unrepresentable {
                guard u.encoding != enc else { throw PrismError("internal: tensor \(view.name) fits no encoding: \(u.reason)") }
                try writer.rewind(to: mark)
                enc = u.encoding
                why = u.reason
            }
        }
    }

    /// The encoding that stores a source tensor's values exactly: bf16 for a bf16 checkpoint,
    /// f32 otherwise (f16 values, NaN and inf included, widen to f32 exactly).
    static func exactEncoding(_ dtype: DType) -> ModelFileFormat.Encoding {
        dtype == .bf16 ? .bf16 : .f32
    }

    /// The one-line error for the first non-finite value of a tensor: the file, the tensor, the
    /// value and where it is (row and column of a matrix, and the flat index).
    func nonFiniteError(_ view: TensorView, shape: [Int], flat: Int, value: Float) -> PrismError {
        let file = (view.owner as? MappedFile).map { PathNames.lastComponent(of: $0.path) + ": " } ?? ""
        let what = value.isNaN ? "NaN" : (value > 0 ? "+inf" : "-inf")
        let at = shape.count == 2 ? "row \(flat / shape[1]), column \(flat % shape[1]) (flat index \(flat))" : "index \(flat)"
        return PrismError("\(file)tensor \(view.name): \(what) at \(at); pass --allow-non-finite to convert it anyway")
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

    /// Writes one tensor in `enc`.
    /// - Throws: `Unrepresentable` when its values do not fit `enc` (the caller rewinds and retries);
    ///   the `nonFiniteError` for a NaN or inf unless `allowNonFinite`.
    /// - Returns: the entry and the tensor's non-finite values.
    func writeTensor(
        _ view: TensorView, shape: [Int], encoding enc: ModelFileFormat.Encoding, writer: ModelFileWriter,
        stats: inout KindStats
    ) throws -> (ModelFileFormat.TensorEntry, Quantize.NonFinite) {
        let exact = view.quantization == nil ? Self.exactEncoding(view.dtype) : .f32
        let rows = shape.count == 2 ? shape[0] : 1
        let cols = shape.count == 2 ? shape[1] : shape.reduce(1, *)
        let block = enc == .q8 ? blockSize : nil
        var entry = ModelFileFormat.TensorEntry(
            name: view.name, shape: shape, encoding: enc, block: block,
            sourceDType: view.sourceTypeName, parts: [:], quantError: nil)
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
        var bad = Quantize.NonFinite()
        // Widens rows [r0, r1) into `f32` and finds their NaN and inf, before any encoding sees them.
        func widenAndCheck(_ r0: Int, _ r1: Int) throws {
            Self.widen(view, from: r0 * cols, count: (r1 - r0) * cols, into: f32)
            let slabBad = Quantize.nonFinite(f32, count: (r1 - r0) * cols)
            if let i = slabBad.first {
                guard allowNonFinite else { throw nonFiniteError(view, shape: shape, flat: r0 * cols + i, value: f32[i]) }
                if enc == .q8 { throw Unrepresentable(encoding: exact, reason: "it holds NaN or inf, which int8 cannot store") }
                if bad.first == nil { bad.first = r0 * cols + i }
                bad.count += slabBad.count
                bad.nans += slabBad.nans
            }
        }
        // `widened: false` leaves widening and checking to `body` (int8: row by row on each
        // worker, while the row is in cache), which calls `widenAndCheck` when it meets a bad row.
        func slabs(widened: Bool = true, _ body: (Int, Int) throws -> Void) throws {
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + slabRows)
                if widened { try widenAndCheck(r0, r1) }
                try body(r0, r1)
                // Drop the source pages just read: resident memory stays at a slab, not a tensor
                // (gemma-2b's embedding alone is 1 GB of bf16).
                source?.release(UnsafeRawBufferPointer(rebasing: view.bytes[view.byteOffset(ofElement: r0 * cols)..<view.byteOffset(ofElement: r1 * cols)]))
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
                        // NaN and inf are stored as they are and left out of the error statistics.
                        guard f32[i].isFinite else { continue }
                        if !back.isFinite {
                            throw Unrepresentable(
                                encoding: .f32, reason: "a weight of \(String(format: "%.3e", f32[i])) is beyond the range of \(enc.rawValue)")
                        }
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
            // Two slabs of quants: the workers fill one while the other is being written.
            let quants = UnsafeMutablePointer<Int8>.allocate(capacity: 2 * slabRows * cols)
            defer { quants.deallocate() }
            // Scales are 1/16 of the quants' size: kept until the data part is written.
            var scales = [UInt16](repeating: 0, count: rows * blocks)
            try scales.withUnsafeMutableBufferPointer { sp in
                entry.parts["data"] = try writer.part(length: lengths["data"] ?? 0) { sink in
                    var pending: UnsafeRawBufferPointer?  // the previous slab's quants, not yet written
                    var slab = 0
                    try slabs(widened: false) { r0, r1 in
                        let n = r1 - r0, buffer = quants + (slab % 2) * slabRows * cols
                        slab += 1
                        // Iteration 0 writes the previous slab; the others widen, check and
                        // quantize a run of this slab's rows each, a row at a time in `f32` (the
                        // slab's buffer, so a row is still in cache when it is quantized). Each
                        // row's statistics are kept apart and summed below in a fixed order, so
                        // the file does not depend on which thread took which rows.
                        let runs = min(n, 8)
                        var rowStats = [Quantize.ErrorStats](repeating: .init(), count: n)
                        // Per run, the first row whose block scale would overflow f16 (-1: none),
                        // and whether a row held NaN or inf (its quants are not computed).
                        var overflowRow = [Int](repeating: -1, count: runs)
                        var nonFiniteRow = [Bool](repeating: false, count: runs)
                        var writeError: Error?
                        rowStats.withUnsafeMutableBufferPointer { rs in
                            overflowRow.withUnsafeMutableBufferPointer { ov in
                                nonFiniteRow.withUnsafeMutableBufferPointer { nf in
                                    DispatchQueue.concurrentPerform(iterations: runs + 1) { i in
                                        guard i > 0 else {
                                            do {
                                                if let p = pending { keepSample(p); try sink(p) }
                                            } catch { writeError = error }
                                            return
                                        }
                                        let t = i - 1
                                        let a = r0 + n * t / runs, b = r0 + n * (t + 1) / runs
                                        for r in a..<b {
                                            let x = f32 + (r - r0) * cols
                                            if Self.widenCounting(view, from: r * cols, count: cols, into: x) > 0 { nf[t] = true; break }
                                            let over = Quantize.row(
                                                x, cols: cols, blockSize: bs, quants: buffer + (r - r0) * cols,
                                                scales: sp.baseAddress! + r * blocks, stats: &rs[r - r0])
                                            if over > 0 && ov[t] < 0 { ov[t] = r }
                                        }
                                    }
                                }
                            }
                        }
                        if let writeError { throw writeError }
                        pending = nil
                        // Throws the error for the slab's first NaN or inf, as a slab-wide check would.
                        if nonFiniteRow.contains(true) {
                            try widenAndCheck(r0, r1)
                            throw PrismError("internal: tensor \(view.name): a row held NaN or inf that the slab's check did not find")
                        }
                        if let r = overflowRow.first(where: { $0 >= 0 }) {
                            throw Unrepresentable(encoding: exact, reason: Self.scaleOverflowReason(f32 + (r - r0) * cols, cols: cols, row: r))
                        }
                        // Summed as files have always been summed: each half of the slab's rows in
                        // row order, then the halves in order (the doubles go into the file).
                        let halves = min(2, n)
                        for h in 0..<halves {
                            var half = Quantize.ErrorStats()
                            for r in (n * h / halves)..<(n * (h + 1) / halves) { half.merge(rowStats[r]) }
                            qstats.merge(half)
                        }
                        pending = UnsafeRawBufferPointer(start: buffer, count: n * cols)
                    }
                    if let p = pending { keepSample(p); try sink(p) }
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
        return (entry, bad)
    }

    /// Why a row cannot be int8: its largest |w| over 127 is beyond the largest f16 scale.
    static func scaleOverflowReason(_ row: UnsafePointer<Float>, cols: Int, row r: Int) -> String {
        var big: Float = 0
        for c in 0..<cols { big = max(big, abs(row[c])) }
        return "row \(r) has |w| = \(String(format: "%.3e", big)); |w| / 127 is beyond the largest f16 scale (\(Int(Quantize.largestScale)))"
    }

    /// Source elements `[start, start + count)` as f32 (whole rows of a quantized GGUF tensor).
    static func widen(_ view: TensorView, from start: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        guard let base = view.bytes.baseAddress else { return }
        if let q = view.quantization {
            do {
                try GGMLDequantize.rows(q, base + view.byteOffset(ofElement: start), elements: count, into: out)
            } catch {
                // Unreachable: `convert(gguf:)` checks every tensor's type before writing any.
                // Were it reached, the NaN would stop the conversion as a non-finite weight.
                out.update(repeating: .nan, count: count)
            }
            return
        }
        switch view.dtype {
        case .f32: out.update(from: base.assumingMemoryBound(to: Float.self) + start, count: count)
        case .bf16: Convert.bf16ToF32(base.assumingMemoryBound(to: UInt16.self) + start, out, count: count)
        case .f16: Convert.f16ToF32(base.assumingMemoryBound(to: UInt16.self) + start, out, count: count)
        default: for i in 0..<count { out[i] = view.float(at: start + i) }
        }
    }

    /// `widen`, and how many of the values are NaN or inf (one pass for bf16 sources).
    static func widenCounting(_ view: TensorView, from start: Int, count: Int, into out: UnsafeMutablePointer<Float>) -> Int {
        if view.dtype == .bf16, let base = view.bytes.baseAddress {
            return Quantize.widenBF16(base.assumingMemoryBound(to: UInt16.self) + start, into: out, count: count)
        }
        widen(view, from: start, count: count, into: out)
        return Quantize.nonFinite(out, count: count).count
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

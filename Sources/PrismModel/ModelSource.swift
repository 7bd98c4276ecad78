import Foundation
import PrismFormats
import PrismSupport

/// A model opened from disk: a Hugging Face directory (config.json, safetensors, tokenizer.json)
/// or a converted `.prism` file. Loading is apart from compute: this binds weights, nothing runs.
public final class LoadedModel: @unchecked Sendable {
    public let path: String
    public let model: GemmaModel
    /// The `tokenizer.json` bytes shipped with the model, if any.
    public let tokenizerJSON: [UInt8]?
    /// Mapped files the weights point into.
    public let files: [MappedFile]
    /// Identifies the weights: XXH64 of the converted file's directory (which holds every
    /// tensor's checksum), or of a checkpoint's config and safetensors headers.
    public let fingerprint: String

    /// Checks every byte the weights depend on and returns an identity covering them (see
    /// `contentFingerprint`).
    private let checkContent: () throws -> String

    init(
        path: String, model: GemmaModel, tokenizerJSON: [UInt8]?, files: [MappedFile], fingerprint: String,
        checkContent: @escaping () throws -> String
    ) {
        self.path = path
        self.model = model
        self.tokenizerJSON = tokenizerJSON
        self.files = files
        self.fingerprint = fingerprint
        self.checkContent = checkContent
    }

    /// An identity of everything the results depend on, for a batch journal that may be resumed
    /// days later: a `.prism` file's checksums, all recomputed here (a file rewritten in place
    /// with other bytes under the same directory is refused as corrupt), or the XXH64 of a
    /// checkpoint's config and whole shards. Reads every byte once, releasing the pages as it
    /// goes (about a second for gemma-2b from the page cache).
    /// - Throws: `PrismError` when a checksum does not match.
    public func contentFingerprint() throws -> String { try checkContent() }

    /// Refuses to go on when a file of the model was rewritten in place while it ran (results
    /// would mix old and new weights). Called before results are committed or printed.
    /// - Throws: `PrismError` "PATH changed while running".
    public func checkUnchanged() throws {
        for f in files { try f.checkUnchanged() }
    }

    public static func open(_ path: String) throws -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PrismError("model not found: \(path)")
        }
        if isDir.boolValue { return try openDirectory(path) }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw PrismError("\(path) is not a regular file (a pipe or a device); give a .prism file or a checkpoint directory")
        }
        if let h = FileHandle(forReadingAtPath: path) {
            let magic = h.readData(ofLength: 4)
            try h.close()
            if magic == Data("GGUF".utf8) {
                throw PrismError("\(path) is a GGUF file: convert it first (prism convert \(path) -o MODEL.prism)")
            }
        }
        return try openConverted(path)
    }

    static func openConverted(_ path: String) throws -> LoadedModel {
        let file = try ModelFile(path: path)
        let config = try GemmaConfig.decode(Data(file.directory.config.utf8), source: "\(path) (embedded config.json)")
        let weights = try GemmaWeights(modelFile: file, config: config)
        let model = try GemmaModel(config: config, weights: weights)
        let fingerprint = "prism:" + XXH64.hex(file.header.directoryChecksum)
        return LoadedModel(path: path, model: model, tokenizerJSON: try file.tokenizerJSON(), files: [file.file], fingerprint: fingerprint) {
            if let problem = file.verify() { throw PrismError("\(path) is corrupt: \(problem)") }
            return fingerprint
        }
    }

    static func openDirectory(_ dir: String) throws -> LoadedModel {
        let configPath = dir + "/config.json"
        guard FileManager.default.fileExists(atPath: configPath) else { throw PrismError("\(dir): missing config.json") }
        let config = try GemmaConfig.load(path: configPath)
        let checkpoint = try SafeTensorsCheckpoint(directory: dir)
        let weights = try GemmaWeights(checkpoint: checkpoint, config: config)
        let model = try GemmaModel(config: config, weights: weights)
        let tokenizer = FileManager.default.contents(atPath: dir + "/tokenizer.json").map { [UInt8]($0) }
        var h = XXH64()
        if let c = FileManager.default.contents(atPath: configPath) { h.update([UInt8](c)) }
        for shard in checkpoint.shards {
            // The 8-byte length and the JSON header name every tensor's dtype, shape and offsets.
            let n = shard.file.size >= 8 ? Int(shard.file.all.loadUnaligned(as: UInt64.self).littleEndian) : 0
            h.update(shard.file.bytes(0..<min(shard.file.size, 8 + n)))
        }
        let files = checkpoint.shards.map(\.file)
        return LoadedModel(path: dir, model: model, tokenizerJSON: tokenizer, files: files, fingerprint: "safetensors:" + XXH64.hex(h.finalize())) {
            var whole = XXH64()
            if let c = FileManager.default.contents(atPath: configPath) { whole.update([UInt8](c)) }
            for f in files {
                // A slab at a time, each released once hashed: resident memory stays small.
                var start = 0
                while start < f.size {
                    let end = min(f.size, start + (8 << 20))
                    whole.update(f.bytes(start..<end))
                    f.release(start..<end)
                    start = end
                }
            }
            return "safetensors-content:" + XXH64.hex(whole.finalize())
        }
    }
}

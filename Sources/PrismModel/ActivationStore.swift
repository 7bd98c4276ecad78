import PrismFormats
import PrismSupport

/// Records one prompt's activations straight into an activation store on disk.
public final class StoreRecorder: ActivationRecorder {
    let writer: ActivationStoreWriter
    let wanted: Set<String>?
    public private(set) var failure: Error?

    /// `names` nil keeps everything the forward pass offers; `force` lets the store replace a file.
    public init(path: String, names: Set<String>?, force: Bool) throws {
        writer = try ActivationStoreWriter(path: path, force: force)
        wanted = names
    }

    public func wants(_ name: String) -> Bool { wanted?.contains(name) ?? true }

    public func record(_ name: String, sequence: Int, shape: [Int], values: UnsafeBufferPointer<Float>) {
        guard failure == nil else { return }
        do { try writer.add(name: name, shape: shape, values: values) } catch { failure = error }
    }

    /// - Parameter route: the route the activations were recorded on (`RunOptions.routeName`).
    public func finish(model: LoadedModel, ids: [Int], route: String? = nil) throws {
        if let failure { throw failure }
        try writer.finish(model: model.fingerprint, modelPath: model.path, ids: ids, route: route)
    }
}

/// An activation store read back as a source for the prisms.
public final class StoredActivations: ActivationSource {
    public let reader: ActivationStoreReader
    public var tokenIds: [Int] { reader.index.ids }
    /// Set by `check(against:)`: every tensor handed out must have the shape this model records.
    private var config: GemmaConfig?

    public init(path: String) throws { reader = try ActivationStoreReader(path: path) }

    /// Refuses activations recorded from other weights than `model`'s, and a store whose
    /// tokens or tensor shapes this model could not have recorded (the fingerprint is only a
    /// string in the file: the prisms index rows by these shapes).
    public func check(against model: LoadedModel) throws {
        guard reader.index.model == model.fingerprint else {
            throw PrismError(
                "\(reader.path) was recorded from \(reader.index.modelPath) (fingerprint \(reader.index.model)), not from \(model.path) (\(model.fingerprint))")
        }
        let c = model.model.config
        let ids = reader.index.ids
        guard !ids.isEmpty, ids.count <= c.maxPositionEmbeddings else {
            throw PrismError("\(reader.path): \(ids.count) token ids, expected 1..\(c.maxPositionEmbeddings)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw PrismError("\(reader.path): token id \(bad) is outside the vocabulary (0..<\(c.vocabSize))")
        }
        for t in reader.index.tensors {
            guard let expected = Self.expectedShape(t.name, config: c, tokens: ids.count) else {
                throw PrismError("\(reader.path): unexpected activation \(t.name) for this model")
            }
            guard t.shape == expected else {
                throw PrismError("\(reader.path): activation \(t.name) has shape \(t.shape), expected \(expected)")
            }
        }
        config = c
    }

    /// The shape the forward pass records `name` with for a sequence of `tokens` positions
    /// (see `ActivationPoint`), or nil for a name it does not record.
    public static func expectedShape(_ name: String, config c: GemmaConfig, tokens t: Int) -> [Int]? {
        ActivationPoint(name: name)?.shape(c, tokens: t)
    }

    public func activation(_ name: String) throws -> ActivationTensor {
        let t = try reader.tensor(name)
        if let config, Self.expectedShape(name, config: config, tokens: tokenIds.count) != t.shape {
            throw PrismError("\(reader.path): activation \(name) has shape \(t.shape), not the model's")
        }
        return ActivationTensor(shape: t.shape, values: t.values)
    }
}

import PrismFormats
import PrismSupport

/// Records one prompt's activations straight into an activation store on disk.
public final class StoreRecorder: ActivationRecorder {
    let writer: ActivationStoreWriter
    let wanted: Set<String>?
    public private(set) var failure: Error?

    /// `names` nil keeps everything the forward pass offers.
    public init(path: String, names: Set<String>?) throws {
        writer = try ActivationStoreWriter(path: path)
        wanted = names
    }

    public func wants(_ name: String) -> Bool { wanted?.contains(name) ?? true }

    public func record(_ name: String, sequence: Int, shape: [Int], values: UnsafeBufferPointer<Float>) {
        guard failure == nil else { return }
        do { try writer.add(name: name, shape: shape, values: values) } catch { failure = error }
    }

    public func finish(model: LoadedModel, ids: [Int]) throws {
        if let failure { throw failure }
        try writer.finish(model: model.fingerprint, modelPath: model.path, ids: ids)
    }
}

/// An activation store read back as a source for the prisms.
public final class StoredActivations: ActivationSource {
    public let reader: ActivationStoreReader
    public var tokenIds: [Int] { reader.index.ids }

    public init(path: String) throws { reader = try ActivationStoreReader(path: path) }

    /// Refuses activations recorded from other weights than `model`'s.
    public func check(against model: LoadedModel) throws {
        guard reader.index.model == model.fingerprint else {
            throw PrismError("\(reader.path) was recorded from \(reader.index.modelPath) (fingerprint \(reader.index.model)), not from \(model.path) (\(model.fingerprint))")
        }
    }

    public func activation(_ name: String) throws -> ActivationTensor {
        let t = try reader.tensor(name)
        return ActivationTensor(shape: t.shape, values: t.values)
    }
}

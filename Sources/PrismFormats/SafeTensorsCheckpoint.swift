import Foundation
import PrismSupport

/// The tensors of a Hugging Face checkpoint directory: either one `model.safetensors`
/// or shards listed by `model.safetensors.index.json` (`weight_map`: tensor -> shard file).
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    public let directory: String
    public let shards: [SafeTensorsFile]
    private let location: [String: (shard: Int, entry: SafeTensorsFile.Entry)]

    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        let indexPath = directory + "/model.safetensors.index.json"
        let singlePath = directory + "/model.safetensors"
        var shardNames: [String]
        var weightMap: [String: String]? = nil
        if fm.fileExists(atPath: indexPath) {
            let (names, map) = try Self.readIndex(indexPath)
            shardNames = names
            weightMap = map
        } else if fm.fileExists(atPath: singlePath) {
            shardNames = ["model.safetensors"]
        } else {
            throw PrismError("\(directory): no model.safetensors or model.safetensors.index.json")
        }
        var shards: [SafeTensorsFile] = []
        for s in shardNames {
            let p = directory + "/" + s
            guard fm.fileExists(atPath: p) else { throw PrismError("\(directory): shard \(s) named in the index is missing") }
            shards.append(try SafeTensorsFile(path: p))
        }
        var location: [String: (Int, SafeTensorsFile.Entry)] = [:]
        for (i, shard) in shards.enumerated() {
            for (name, entry) in shard.entries {
                if let prev = location[name] {
                    throw PrismError("tensor \(name) appears in both \(shardNames[prev.0]) and \(shardNames[i])")
                }
                location[name] = (i, entry)
            }
        }
        if let weightMap {
            for (name, file) in weightMap {
                guard let (i, _) = location[name] else {
                    throw PrismError("tensor \(name) listed in the index is in no shard (expected in \(file))")
                }
                guard shardNames[i] == file else {
                    throw PrismError("tensor \(name): index says \(file) but it is in \(shardNames[i])")
                }
            }
            for (name, loc) in location where weightMap[name] == nil {
                throw PrismError("tensor \(name) in \(shardNames[loc.0]) is not listed in the index")
            }
        }
        self.shards = shards
        self.location = location
    }

    private static func readIndex(_ path: String) throws -> ([String], [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw PrismError("cannot read \(path)") }
        return try parseIndex(data, path: path)
    }

    /// Parses `model.safetensors.index.json`: the shard file names (sorted, each a plain name in
    /// the checkpoint directory) and the tensor -> shard map.
    public static func parseIndex(_ data: Data, path: String) throws -> (shards: [String], weightMap: [String: String]) {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PrismError("\(path): not a JSON object")
        }
        guard let map = obj["weight_map"] as? [String: String] else {
            throw PrismError("\(path): missing or malformed weight_map")
        }
        var names: [String] = []
        for f in Set(map.values).sorted() {
            // Shard names are plain file names in the same directory; refuse paths that escape it.
            guard !f.contains("/"), !f.contains("\0"), !f.isEmpty, f != "..", f != "." else { throw PrismError("\(path): bad shard name \(f)") }
            names.append(f)
        }
        return (names, map)
    }

    public var tensorNames: [String] { location.keys.sorted() }

    public func entry(_ name: String) -> SafeTensorsFile.Entry? { location[name]?.entry }

    public func view(_ name: String) -> TensorView? {
        guard let (i, _) = location[name] else { return nil }
        return shards[i].view(name)
    }

    /// The tensor `name`, which must exist with a float dtype.
    public func require(_ name: String) throws -> TensorView {
        guard let v = view(name) else { throw PrismError("\(directory): missing tensor \(name)") }
        guard v.dtype.isSupportedFloat else {
            throw PrismError("tensor \(name) has dtype \(v.dtype.rawValue); expected F32, F16 or BF16")
        }
        return v
    }
}

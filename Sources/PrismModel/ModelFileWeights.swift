import Foundation
import PrismFormats
import PrismKernels
import PrismSupport

extension WeightMatrix {
    /// A zero-copy matrix over a tensor of a converted model file (any encoding).
    public init(entry t: ModelFileFormat.TensorEntry, in file: ModelFile) throws {
        guard t.shape.count == 2 else { throw PrismError("tensor \(t.name) is not a matrix (shape \(t.shape))") }
        guard let data = t.parts["data"], let base = file.bytes(data).baseAddress else {
            throw PrismError("tensor \(t.name) has no data")
        }
        let storage: Storage
        switch t.encoding {
        case .f32: storage = .f32(base.assumingMemoryBound(to: Float.self))
        case .bf16: storage = .bf16(base.assumingMemoryBound(to: UInt16.self))
        case .f16: storage = .f16(base.assumingMemoryBound(to: UInt16.self))
        case .q8:
            guard let sp = t.parts["scales"], let s = file.bytes(sp).baseAddress, let block = t.block else {
                throw PrismError("tensor \(t.name) has no scales")
            }
            storage = .q8(quants: base.assumingMemoryBound(to: Int8.self), scales: s.assumingMemoryBound(to: UInt16.self), blockSize: block)
        }
        self.init(rows: t.shape[0], cols: t.shape[1], storage: storage, owner: file)
    }
}

extension GemmaWeights {
    /// Binds every tensor of a converted file; the set of names and shapes must be exactly
    /// the config's (a file with extra or missing tensors is refused by name).
    public init(modelFile file: ModelFile, config c: GemmaConfig) throws {
        let expected = GemmaTensorNames.expectedShapes(c)
        for name in file.tensorNames where expected[name] == nil {
            throw PrismError("\(file.path): unexpected tensor \(name)")
        }
        func entry(_ name: String) throws -> ModelFileFormat.TensorEntry {
            guard let e = file.entry(name) else { throw PrismError("\(file.path): missing tensor \(name)") }
            if let shape = expected[name], shape != e.shape {
                throw PrismError("\(file.path): tensor \(name) has shape \(e.shape), expected \(shape)")
            }
            return e
        }
        func matrix(_ name: String) throws -> WeightMatrix { try WeightMatrix(entry: entry(name), in: file) }
        func gain(_ name: String) throws -> [Float] {
            let e = try entry(name)
            guard e.encoding == .f32, let p = e.parts["data"] else { throw PrismError("\(file.path): norm \(name) must be f32") }
            // Copied with pread, not faulted in through the mapping (see `MappedFile.copy`).
            let b = try file.copy(p)
            return b.withUnsafeBytes { raw in (0..<(p.length / 4)).map { 1 + raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        }
        try self.init(config: c, matrix: matrix, gain: gain)
    }
}

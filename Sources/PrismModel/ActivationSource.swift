import PrismSupport

/// One recorded activation of one sequence: row-major values and their shape.
public struct ActivationTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// The row `i` of the leading dimension (e.g. one position of a `[T, d]` tensor).
    public func row(_ i: Int) -> ArraySlice<Float> {
        let w = shape.dropFirst().reduce(1, *)
        return values[(i * w)..<((i + 1) * w)]
    }
}

/// Where the prisms read activations from: memory (just recorded) or an activation store
/// on disk. Names are `ActivationName`s; each source holds one sequence.
public protocol ActivationSource {
    var tokenIds: [Int] { get }
    func activation(_ name: String) throws -> ActivationTensor
}

extension MemoryRecorder {
    /// A view of one recorded sequence as an activation source.
    public func source(sequence: Int, ids: [Int]) -> ActivationSource { RecordedSequence(recorder: self, sequence: sequence, tokenIds: ids) }
}

struct RecordedSequence: ActivationSource {
    let recorder: MemoryRecorder
    let sequence: Int
    let tokenIds: [Int]

    func activation(_ name: String) throws -> ActivationTensor {
        guard let t = recorder.tensor(name, sequence: sequence) else { throw PrismError("activation \(name) was not recorded") }
        return t
    }
}

/// The activations the prisms read, so a forward pass for decomposition records only these.
public enum PrismActivations {
    public static func needed(layers: Int) -> Set<String> {
        var s: Set<String> = [ActivationName.embed, ActivationName.lnFinalScale]
        for l in 0..<layers {
            s.formUnion([ActivationName.ln1Scale(l), ActivationName.pattern(l), ActivationName.v(l), ActivationName.z(l),
                         ActivationName.attnOut(l), ActivationName.ln2Scale(l), ActivationName.gateAct(l), ActivationName.up(l),
                         ActivationName.post(l), ActivationName.mlpOut(l),
                         // read by the paths (inputs of heads and neurons) and the logit lens
                         ActivationName.residPre(l), ActivationName.residMid(l), ActivationName.residPost(l)])
        }
        return s
    }
}

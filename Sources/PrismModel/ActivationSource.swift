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

/// Where the prisms read activations from: memory (just recorded), an activation store on
/// disk, or only the rows of one position (batch jobs). Names are `ActivationName`s; each
/// source holds one sequence.
public protocol ActivationSource {
    var tokenIds: [Int] { get }
    func activation(_ name: String) throws -> ActivationTensor
    /// Row `position` of a `[T, ...]` tensor (a one-element slice for `[T]` scales).
    func row(_ name: String, _ position: Int) throws -> ArraySlice<Float>
    /// The attention probabilities of query `position` in `layer`, `[H, S]` row-major.
    func patternRow(layer: Int, position: Int) throws -> [Float]
}

extension ActivationSource {
    public func row(_ name: String, _ position: Int) throws -> ArraySlice<Float> {
        let t = try activation(name)
        guard position >= 0, position < (t.shape.first ?? 0) else { throw PrismError("activation \(name) has no position \(position)") }
        return t.row(position)
    }

    public func patternRow(layer: Int, position: Int) throws -> [Float] {
        let t = try activation(ActivationName.pattern(layer))
        guard t.shape.count == 3, position >= 0, position < t.shape[1] else {
            throw PrismError("activation \(ActivationName.pattern(layer)) has no query position \(position)")
        }
        let (H, T, S) = (t.shape[0], t.shape[1], t.shape[2])
        var out = [Float](repeating: 0, count: H * S)
        for h in 0..<H { for j in 0..<S { out[h * S + j] = t.values[(h * T + position) * S + j] } }
        return out
    }
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
    /// What `Prism.decompose` reads (no paths, no lens).
    public static func forDecomposition(layers: Int) -> Set<String> {
        var s: Set<String> = [ActivationName.embed, ActivationName.lnFinalScale, ActivationName.residPost(layers - 1)]
        for l in 0..<layers {
            s.formUnion([
                ActivationName.pattern(l), ActivationName.v(l), ActivationName.z(l), ActivationName.attnOut(l),
                ActivationName.post(l), ActivationName.mlpOut(l),
                // Gemma 2/3's post-norm scales (offered only by models that have them)
                ActivationName.ln1PostScale(l), ActivationName.ln2PostScale(l),
            ])
        }
        return s
    }

    /// Everything the prisms, paths and lens read.
    public static func needed(layers: Int) -> Set<String> {
        var s: Set<String> = [ActivationName.embed, ActivationName.lnFinalScale]
        for l in 0..<layers {
            s.formUnion([
                ActivationName.ln1Scale(l), ActivationName.pattern(l), ActivationName.v(l), ActivationName.z(l),
                ActivationName.attnOut(l), ActivationName.ln2Scale(l), ActivationName.gateAct(l), ActivationName.up(l),
                ActivationName.post(l), ActivationName.mlpOut(l), ActivationName.ln1PostScale(l), ActivationName.ln2PostScale(l),
                // read by the paths (inputs of heads and neurons) and the logit lens
                ActivationName.residPre(l), ActivationName.residMid(l), ActivationName.residPost(l),
            ])
        }
        return s
    }
}

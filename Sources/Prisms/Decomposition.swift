import Foundation
import PrismModel

/// A target's logit at one position written as exact sums of linear terms, with the
/// non-linear factors frozen at their recorded values (final and per-block `1/rms`,
/// attention probabilities, GELU gates). Shapes: L layers, H heads, P = position + 1 sources.
public struct TargetDecomposition: Sendable {
    public var target: Target
    /// Set when the model soft-caps its logits (Gemma 2): which logit the terms add up to.
    public var softcap: Softcap? = nil
    /// `u . x_p`: the logit read from the recorded final residual stream (equal to the model's).
    public var logit: Double
    /// Residual prism: the embedding's term, and one term per attention and MLP block.
    public var embed: Double
    public var attn: [Double]  // [L]
    public var mlp: [Double]  // [L]
    /// Attention prism: per head, and per head per source position.
    public var heads: [[Double]]  // [L][H]
    public var headSources: [[[Double]]]  // [L][H][P]
    /// MLP prism: per neuron.
    public var neurons: [[Double]]  // [L][ff]

    /// embed + sum attn + sum mlp.
    public var sum: Double { embed + attn.reduce(0, +) + mlp.reduce(0, +) }
    public var error: Double { sum - logit }

    /// The worst disagreement between a term and the finer terms it splits into
    /// (heads vs their block, sources vs their head, neurons vs their block); NaN if any is NaN
    /// (`max` would drop it and report a closure that was never measured).
    public var finerClosure: Double {
        var worst = 0.0
        func note(_ d: Double) { worst = d.isNaN || worst.isNaN ? .nan : max(worst, abs(d)) }
        for l in attn.indices {
            note(heads[l].reduce(0, +) - attn[l])
            for h in heads[l].indices { note(headSources[l][h].reduce(0, +) - heads[l][h]) }
            note(neurons[l].reduce(0, +) - mlp[l])
        }
        return worst
    }

    /// How many terms of each kind are NaN (a NaN weight or activation upstream): they are never
    /// ranked, and the outputs say how many there are.
    public var nanTerms: (residual: Int, heads: Int, headSources: Int, neurons: Int) {
        func count(_ xs: [Double]) -> Int { xs.reduce(0) { $0 + ($1.isNaN ? 1 : 0) } }
        return (
            count([embed] + attn + mlp), heads.reduce(0) { $0 + count($1) },
            headSources.reduce(0) { $0 + $1.reduce(0) { $0 + count($1) } }, neurons.reduce(0) { $0 + count($1) }
        )
    }

    /// Name of each residual term, in stream order: `embed`, `blocks.0.attn`, `blocks.0.mlp`, ...
    public var residualTerms: [(name: String, value: Double)] {
        var out: [(String, Double)] = [("embed", embed)]
        for l in attn.indices {
            out.append(("blocks.\(l).attn", attn[l]))
            out.append(("blocks.\(l).mlp", mlp[l]))
        }
        return out
    }
}

/// Which logit a decomposition splits when the model soft-caps its final logits
/// (`final_logit_softcapping`: the model outputs `c * tanh(z / c)` of each token's logit z).
public enum LogitKind: String, Sendable, CaseIterable {
    /// What the model outputs: `c tanh(z / c) = g z` with `g` frozen per token, so every term of
    /// z is scaled by its token's `g` (a difference weighs each token by its own `g`).
    case capped
    /// z itself, before the soft-cap.
    case preSoftcap = "pre_softcap"
}

/// The soft-cap of one target: its tokens' pre-cap logits and frozen factors.
public struct Softcap: Sendable {
    /// `c` of `c * tanh(z / c)`.
    public var cap: Double
    /// Which logit the target's terms add up to.
    public var shown: LogitKind
    /// Per target token (in the target's order): the pre-cap logit z and `g = c tanh(z / c) / z`.
    public var preCapLogits: [Double]
    public var factors: [Double]
    /// `sum coef * z` and `sum coef * c tanh(z / c)` over the target's tokens.
    public var preCapLogit: Double
    public var cappedLogit: Double

    /// `g = c tanh(z / c) / z`, 1 at z = 0 (its limit).
    public static func factor(_ z: Double, cap c: Double) -> Double { z == 0 ? 1 : c * tanh(z / c) / z }
}

public struct Decomposition: Sendable {
    /// Bytes a decomposition of `targets` targets at `position` holds while it exists: every
    /// head, head-source and neuron term per target, in Double (what a memory plan counts).
    public static func heldBytes(targets: Int, position: Int, config c: GemmaConfig) -> Int {
        targets * c.numHiddenLayers * (c.intermediateSize + c.numAttentionHeads * (position + 2) + 2) * 8
    }

    public var ids: [Int]
    public var position: Int
    public var targets: [TargetDecomposition]
    /// What was held fixed to make the decomposition linear (see `frozen(_:logit:)`).
    public var frozen: [String]

    /// What a decomposition on a model with config `c` holds fixed, by activation name.
    public static func frozen(_ c: GemmaConfig, logit: LogitKind = .capped) -> [String] {
        var f = [
            "final RMSNorm scale 1/rms(x_p) (ln_final.scale)",
            "attention probabilities (blocks.*.attn.pattern)",
            "GELU gates gelu(gate) (blocks.*.mlp.gate_act)",
        ]
        if c.hasPostNorms {
            f.append("post-attention RMSNorm scale 1/rms of each attention output (blocks.*.ln1_post.scale)")
            f.append("post-feedforward RMSNorm scale 1/rms of each MLP output (blocks.*.ln2_post.scale)")
        }
        if let cap = c.finalLogitSoftcapping, logit == .capped {
            f.append("final logit soft-cap factor g = c tanh(z/c) / z per target token (c = \(cap))")
        }
        return f
    }
}

/// One name per component in every output, as TransformerLens and Neuronpedia write them:
/// residual terms `embed`, `blocks.{l}.attn`, `blocks.{l}.mlp`; a head `L{l}H{h}`; a neuron
/// `L{l}N{n}`; a head reading a source position `L{l}H{h}@{j}`.
public enum ComponentName {
    public static func head(_ l: Int, _ h: Int) -> String { "L\(l)H\(h)" }
    public static func neuron(_ l: Int, _ n: Int) -> String { "L\(l)N\(n)" }
    public static func headSource(_ l: Int, _ h: Int, _ j: Int) -> String { "L\(l)H\(h)@\(j)" }
}

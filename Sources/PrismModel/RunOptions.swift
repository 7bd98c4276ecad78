import Foundation
import PrismKernels

/// How one call runs the model, passed per call (gemma.cpp's `RuntimeConfig`): the model holds
/// weights and configuration only, so two runs with different options can share it at once.
public struct RunOptions: Sendable {
    /// How products with int8 weights treat activations (see `ActivationRoute`). Whatever the
    /// route, when activations are recorded for the prisms, W_O and W_down run on fp32
    /// activations at the decomposed rows, so every decomposition closes exactly.
    public var route: ActivationRoute
    /// Release each layer's weight pages once the layer is done for the whole batch, and
    /// stream the unembedding in tiles: resident memory then holds about one layer of weights.
    public var streamWeights: Bool
    /// With `streamWeights`: layers below this index are never released (the budget holds them).
    public var residentLayers: Int
    /// Where a run adds what it measured (weight bytes read), when the caller wants totals.
    public var meter: RunMeter?
    /// Which SIMD kernels run the int8 products and GELU (`.best`: this CPU's best; tests pass
    /// `.portable` to compare).
    public var kernel: Int8Kernel = .best
    /// How many threads split each product's rows (`--threads`; default: the CPUs this process
    /// may use, affinity mask and cgroup CPU quota). Results do not depend on it.
    public var threads: Int = CPUs.available
    /// Called after each layer of a forward pass with (layers done, layers): a command's progress.
    public var onLayer: (@Sendable (Int, Int) -> Void)?

    public init(route: ActivationRoute = .int8, streamWeights: Bool = false, residentLayers: Int = 0, meter: RunMeter? = nil) {
        self.route = route
        self.streamWeights = streamWeights
        self.residentLayers = residentLayers
        self.meter = meter
    }

    /// Streams or keeps weights as the memory planner decided.
    public init(plan: MemoryPlan, route: ActivationRoute, meter: RunMeter? = nil) {
        self.init(route: route, streamWeights: plan.streamWeights, residentLayers: plan.residentLayers, meter: meter)
    }

    /// The route as outputs name it: `int8` (int8 weights times activations quantized to int8 per
    /// block of 32) or `exact` (fp32 activations, or weights that are not int8: nothing to quantize).
    public func routeName(for model: GemmaModel) -> String {
        route == .int8 && model.hasInt8Weights ? "int8" : "exact"
    }

    /// Whether layer `l`'s pages are given back once a pass is done with it (streamed, not kept).
    public func releasesLayer(_ l: Int) -> Bool { streamWeights && l >= residentLayers }
}

/// What runs measured, summed over every call given this meter (thread-safe): `--stats`.
public final class RunMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = 0

    public init() {}

    /// Weight bytes read by forward passes (each layer once per batch).
    public var weightBytesRead: Int { lock.lock(); defer { lock.unlock() }; return bytes }

    func add(weightBytes n: Int) { lock.lock(); bytes += n; lock.unlock() }
}

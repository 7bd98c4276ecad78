import ArgumentParser
import Foundation
import PrismModel
import PrismSupport

/// `--max-memory SIZE` and `--stats`, on every command that runs the model.
struct RuntimeOptions: ParsableArguments {
    @Option(name: .customLong("max-memory"), help: ArgumentHelp(
        "Memory budget (e.g. 512MiB, 1GiB). The working set is planned before starting; when the model does not fit, each layer's weight pages are released once used.",
        valueName: "size"))
    var maxMemory: String?

    @Flag(help: "Print time, peak RSS and weight bytes read to stderr.")
    var stats = false

    @Flag(help: "Multiply int8 weights with fp32 activations everywhere (exact with respect to the stored weights; slower). By default activations are quantized to int8 per block of 32, except where the prisms split a product.")
    var exactActivations = false

    func validate() throws {
        if let maxMemory {
            do { _ = try ByteSize.parse(maxMemory) } catch let e as PrismError { throw ValidationError(e.message) }
        }
    }

    var budget: Int? { maxMemory.flatMap { try? ByteSize.parse($0) } }

    /// Plans the run and sets the model's weight streaming; throws when the budget is too small.
    @discardableResult
    func prepare(_ model: GemmaModel, tokens: Int, extraBytes: Int = 0, logitRows: Int = 0) throws -> MemoryPlan {
        let plan = try MemoryPlan.make(model: model, budget: budget, tokens: tokens, extraBytes: extraBytes, logitRows: logitRows)
        model.apply(plan)
        model.activationRoute = exactActivations ? .exact : .int8
        return plan
    }

    /// Activations recorded for the prisms when decomposing a prompt of `tokens` tokens.
    static func recordedBytes(_ model: GemmaModel, tokens: Int) -> Int {
        tokens * MemoryPlan.recordedPerToken(model.config, tokens: tokens)
    }

    final class Clock {
        let start = Date()
    }

    func report(_ clock: Clock, model: GemmaModel?, extra: String = "") {
        guard stats else { return }
        let seconds = Date().timeIntervalSince(clock.start)
        var line = "stats: \(String(format2: seconds)) s, peak RSS \(ByteSize.format(ResourceUsage.peakRSS))"
        if let model { line += ", weight bytes read \(ByteSize.format(model.weightBytesRead))\(model.streamWeights ? " (streamed; \(model.residentLayers) of \(model.config.num_hidden_layers) layers kept resident)" : "")" }
        if let budget { line += ", budget \(ByteSize.format(budget))" }
        fflush(stdout)
        FileHandle.standardError.write(Data((line + extra + "\n").utf8))
    }
}

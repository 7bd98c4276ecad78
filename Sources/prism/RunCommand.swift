import ArgumentParser
import Foundation
import PrismModel
import PrismSession
import PrismSupport

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a prompt and store its activations for later decomposition.",
        discussion: """
            Writes an activation store (LZ4-compressed, checksummed fp32 chunks, layout in \
            docs/ACTIVATIONS.md) holding everything needed to decompose any target at any position \
            later without running the model again:
              prism run -m MODEL --prompt "The capital of France is" -o france.acts
              prism decompose -m MODEL --acts france.acts --target-token " Paris"
            tools/read_acts.py loads a store into numpy. --all also keeps q, k, gate and the other \
            intermediates the prisms do not read.
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(name: [.short, .customLong("output")], help: "The activation store to write (e.g. RUN.acts).")
    var output: String

    @Flag(help: "Store every activation the forward pass produces, not only what the prisms read.")
    var all = false

    @Flag(help: "Replace OUTPUT if it exists (by rename, once the new store is complete).")
    var force = false

    func run() throws {
        try model.run(runtime, checking: { try Outputs.checkFile(output, force: force, inputs: [model.model]) }) { session in
            let ids = try prompt.tokens(for: session)
            let m = session.model
            // Activations go to disk as they are produced: only the scratch is planned.
            let options = try session.plan(tokens: ids.count, logitRows: 1)
            let recorder = try StoreRecorder(path: output, names: all ? nil : PrismActivations.needed(layers: m.config.numHiddenLayers), force: force)
            let logits = try m.forward(
                [ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[ids.count - 1]], recorder: recorder,
                options: options)
            try recorder.finish(model: session.loaded, ids: ids, route: options.routeName(for: m))
            let size = ((try? FileManager.default.attributesOfItem(atPath: output))?[.size] as? Int) ?? 0
            let top = logits[0].first.map { l in l.indices.max { l[$0] < l[$1] } ?? 0 }
            print("wrote \(output): \(ids.count) tokens, \(ByteSize.format(size))\(top.map { "; next token \($0)" } ?? "")")
        }
    }
}

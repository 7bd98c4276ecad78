import ArgumentParser
import Foundation
import PrismModel
import PrismStudies
import PrismSupport

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "The article's studies as reports: tables and figures (SVG, HTML) with their data (CSV, JSON).",
        discussion: """
            Each study writes a folder (default study-NAME/) with index.html (self-contained: opens from
            disk, prints cleanly), each figure as a standalone SVG, and the data behind it as CSV/JSON.
            """,
        subcommands: [CapitalsStudyCommand.self, AdditionStudyCommand.self, DigitsStudyCommand.self]
    )
}

extension RuntimeOptions {
    /// A study's context under this budget: the smallest run (one token) must fit, or nothing can;
    /// each of the study's forward passes is then planned by the context.
    func studyContext(_ model: ModelOptions) throws -> StudyContext {
        let session = try model.session(self)
        _ = try session.plan(tokens: 1)
        return try StudyContext(session: session)
    }
}

struct StudyOutputOptions: ParsableArguments {
    @Option(name: [.short, .customLong("output")], help: "Output folder (default: study-NAME).")
    var output: String?

    @Flag(help: "Replace the files an earlier run wrote in the output folder (only those: a folder holding anything else is refused).")
    var force = false

    func directory(_ name: String) -> String { output ?? "study-\(name)" }

    /// Runs study `name` the same way for every study: the output folder checked before any
    /// work, the model opened under the budget, `--stats` reported at the end.
    /// - Returns: the study's result and the folder it wrote.
    func run<R>(
        _ name: String, model: ModelOptions, runtime: RuntimeOptions,
        _ study: (_ ctx: StudyContext, _ dir: String, _ force: Bool) throws -> R
    ) throws -> (result: R, dir: String) {
        let dir = directory(name)
        try Outputs.checkSet(dir, force: force, inputs: [model.model])
        let clock = RuntimeOptions.Clock()
        let ctx = try runtime.studyContext(model)
        defer { runtime.report(clock, session: ctx.session) }
        return (try study(ctx, dir, force), dir)
    }
}

struct CapitalsStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capitals",
        abstract: "\"The capital city of France is\": residual prism, attention prism, chained prism, other countries.",
        discussion: """
            Figures: (1) the residual prism per candidate capital over Embed, a0, m0, ...; (2) the
            attention prism of the layer that separates the right capital most, per head and source
            token; (3) the chained prism: the country token's stream, piece by piece, read through the
            top head; (4) that head's frozen map applied to other countries' embeddings.

              prism study capitals -m models/tiny-gemma.prism
              prism study capitals -m gemma-2b.prism --country Japan --pairs "Japan=Tokyo,France=Paris,Italy=Rome"
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var out: StudyOutputOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Prompt template; {country} is replaced.")
    var template = "The capital city of {country} is"

    @Option(help: "The country of the main prompt.")
    var country = "France"

    @Option(help: "Country=Capital pairs, comma-separated (candidates are the capitals; each must be one token with a leading space).")
    var pairs: String?

    @Option(help: "Attention layer to study (default: the one that separates the right capital most).")
    var layer: Int?

    @Option(help: "Head of that layer for the chained prism (default: the one that separates most).")
    var head: Int?

    func run() throws {
        try CLI.guarded {
            var s = CapitalsStudy()
            s.template = template
            s.country = country
            s.layer = layer
            s.head = head
            if let pairs {
                s.pairs = try pairs.split(separator: ",").map { item in
                    let kv = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else { throw PrismError("--pairs: '\(item)' is not Country=Capital") }
                    return CapitalsStudy.Pair(country: kv[0], capital: kv[1])
                }
            }
            let (r, dir) = try out.run("capitals", model: model, runtime: runtime) { ctx, dir, force in try s.run(ctx, output: dir, force: force) }
            print(
                "wrote \(dir)/index.html: layer \(r.layer), head \(r.head); own capital wins the head's map for \(r.mapWins)/\(r.mapCountries) countries; top heads read the country token in \(r.readsCountry)/\(r.readsCountryChecked); greedy answer right for \(r.correct)/\(r.prompts)"
            )
        }
    }
}

struct AdditionStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addition",
        abstract: "\"7+2=\": which MLP layer carries the answer, and its neurons' digit templates.",
        discussion: """
            Figures: (1) the residual prism per digit; (2) the templates of the layer's top neurons
            (their contributions to the ten digit logits); (3) those contributions stacked per output
            digit; and a summary over every a+b= (a, b in 1..9) of how often the summed templates peak
            at the right digit.
            """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var out: StudyOutputOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Prompt template; {a} and {b} are replaced.")
    var template = "{a}+{b}="

    @Option(help: "The example prompt's a and b, e.g. 7,2.")
    var example = "7,2"

    @Option(help: "How many neurons to show.")
    var neurons = 8

    @Option(help: "MLP layer to study (default: the one that separates the right digit most).")
    var layer: Int?

    func run() throws {
        try CLI.guarded {
            let ab = example.split(separator: ",").compactMap { Int($0) }
            guard ab.count == 2, (0...9).contains(ab[0]), (0...9).contains(ab[1]) else { throw PrismError("--example takes two digits, e.g. 7,2") }
            guard neurons > 0 else { throw PrismError("--neurons must be positive") }
            var s = AdditionStudy()
            s.template = template
            s.example = (ab[0], ab[1])
            s.neurons = neurons
            s.layer = layer
            let (r, dir) = try out.run("addition", model: model, runtime: runtime) { ctx, dir, force in try s.run(ctx, output: dir, force: force) }
            print(
                "wrote \(dir)/index.html: layer \(r.layer); summed top-neuron templates peak at the right digit for \(r.peaksRight)/\(r.prompts) prompts; greedy answer right for \(r.correct)/\(r.prompts)"
            )
        }
    }
}

struct DigitsStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digits",
        abstract: "The ten digit unembeddings projected to 2-D by PCA, joined 0-1-...-9-0.",
        discussion: "Reports the explained variance and how symmetric the shape is about the 0-5 axis."
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var out: StudyOutputOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try CLI.guarded {
            let (r, dir) = try out.run("digits", model: model, runtime: runtime) { ctx, dir, force in try DigitsStudy().run(ctx, output: dir, force: force) }
            print(
                "wrote \(dir)/index.html: explained variance \(String(format: "%.1f", r.explained.0 * 100))% + \(String(format: "%.1f", r.explained.1 * 100))%, asymmetry \(String(format: "%.3f", r.asymmetry))"
            )
        }
    }
}

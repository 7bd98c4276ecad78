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
            Each study writes a folder (default study-NAME/) with index.html (self-contained: opens from \
            disk, prints cleanly), each figure as a standalone SVG, and the data behind it as CSV/JSON.

            Defaults follow the model's vocabulary. A real Gemma (32,000 tokens or more: gemma-2b, \
            gemma-3-270m) gets a few-shot prefix before every prompt (small base models answer \
            "The capital city of France is" with " the" without one) and, for capitals, twenty \
            well-known countries; a small vocabulary (the shipped toy, trained on bare lines) gets \
            the article's zero-shot prompts and its nine countries. --prefix "" gives the article's \
            prompts on any model. In --template and --prefix, \\n is a newline, \\t a tab, \\\\ a backslash.
            """,
        subcommands: [CapitalsStudyCommand.self, AdditionStudyCommand.self, DigitsStudyCommand.self]
    )
}

/// What every study takes: the model, the output folder and the runtime, in the order `--help` lists them.
struct StudyOptions: ParsableArguments {
    @OptionGroup var model: ModelOptions

    @Option(name: [.short, .customLong("output")], help: "Output folder (default: study-NAME).")
    var output: String?

    @Flag(help: "Replace the files an earlier run wrote in the output folder (only those: a folder holding anything else is refused).")
    var force = false

    @OptionGroup var runtime: RuntimeOptions

    /// Runs study `name` the same way for every study: the output folder checked before any
    /// work, the model opened under the budget (the smallest run, one token, must fit, or nothing
    /// can; each of the study's forward passes is then planned by its context), `--stats` at the end.
    /// - Returns: the study's result and the folder it wrote.
    func run<R>(_ name: String, _ study: (_ ctx: StudyContext, _ dir: String, _ force: Bool) throws -> R) throws -> (result: R, dir: String) {
        let dir = output ?? "study-\(name)"
        try Outputs.checkSet(dir, force: force, inputs: [model.model])
        return try model.withSession(runtime) { session in
            _ = try session.plan(tokens: 1)
            return (try study(try StudyContext(session: session), dir, force), dir)
        }
    }
}

/// `--template` and `--prefix` as the studies take them: escapes replaced, nil prefix kept
/// (the model's default).
func studyText(template: String, prefix: String?) throws -> (template: String, prefix: String?) {
    (try StudyText.unescape(template, option: "--template"), try prefix.map { try StudyText.unescape($0, option: "--prefix") })
}

/// Where a study's prompts started: said on stderr, since the default depends on the model.
func notePrefix(_ prefix: String, isDefault: Bool) {
    let text = prefix.isEmpty ? "none" : "\"\(StudyText.escape(prefix))\""
    FileHandle.standardError.write(Data("note: prefix \(text)\(isDefault ? " (the default for this model's vocabulary)" : "")\n".utf8))
}

struct CapitalsStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capitals",
        abstract: "\"The capital city of France is\": residual prism, attention prism, chained prism, other countries.",
        discussion: """
            Figures: (1) the residual prism per candidate capital over Embed, a0, m0, ...; (2) the \
            attention prism of the layer that separates the right capital most, per head and source \
            token; (3) the chained prism: the country token's stream, piece by piece, read through the \
            top head; (4) that head's frozen map applied to other countries' embeddings.

            Candidates are the capitals that are one token with a leading space in the model's \
            vocabulary; the others are left out and named (in the report and on stderr). \
            Default pairs: the article's nine (France=Paris, Russia=Moscow, Vietnam=Hanoi, \
            Ireland=Dublin, Netherlands=Amsterdam, Iran=Tehran, Korea=Seoul, England=London, \
            Japan=Tokyo) on a small vocabulary; on a real Gemma those and Germany, Italy, Spain, \
            China, Egypt, Greece, Poland, Canada, Australia, Turkey, India. Default prefix on a \
            real Gemma: "The capital city of Austria is Vienna.\\nThe capital city of Portugal is \
            Lisbon.\\n".

              prism study capitals -m models/tiny-gemma.prism
              prism study capitals -m models/gemma-3-270m.prism
              prism study capitals -m models/gemma-3-270m.prism --prefix ""
              prism study capitals -m gemma-2b.prism --pairs "France=Paris,Italy=Rome"
            """
    )

    @OptionGroup var study: StudyOptions

    @Option(help: "Prompt template; {country} is replaced (\\n: newline).")
    var template = "The capital city of {country} is"

    @Option(help: "Text before every prompt, e.g. a few-shot prefix (\\n: newline; \"\": none). Default: the model's (see above).")
    var prefix: String?

    @Option(help: "The country of the main prompt.")
    var country = "France"

    @Option(
        help:
            "Country=Capital pairs, comma-separated; the capitals are the candidates (those that are not one token with a leading space are left out and named). Default: the model's (see above)."
    )
    var pairs: String?

    @Option(parsing: .unconditional, help: "Attention layer to study (default: the one that separates the right capital most).")
    var layer: Int?

    @Option(parsing: .unconditional, help: "Head of that layer for the chained prism (default: the one that separates most).")
    var head: Int?

    func run() throws {
        try CLI.guarded {
            var s = CapitalsStudy()
            (s.template, s.prefix) = try studyText(template: template, prefix: prefix)
            s.country = country
            s.layer = layer
            s.head = head
            if let pairs { s.pairs = try Self.parsePairs(pairs) }
            let (r, dir) = try study.run("capitals") { ctx, dir, force in try s.run(ctx, output: dir, force: force) }
            notePrefix(r.prefix, isDefault: r.prefixIsDefault)
            if !r.dropped.isEmpty {
                FileHandle.standardError.write(Data("note: left out (not one token in this vocabulary): \(r.dropped.joined(separator: ", "))\n".utf8))
            }
            if !r.skippedCountries.isEmpty {
                FileHandle.standardError.write(
                    Data("note: head's map not applied to (country not one token): \(r.skippedCountries.joined(separator: ", "))\n".utf8))
            }
            print(
                "wrote \(dir)/index.html: layer \(r.layer), head \(r.head); own capital wins the head's map for \(r.mapWins)/\(r.mapCountries) countries; top heads read the country token in \(r.readsCountry)/\(r.readsCountryChecked); greedy answer right for \(r.correct)/\(r.prompts)"
            )
        }
    }
}

extension CapitalsStudyCommand {
    /// `--pairs "France=Paris,Italy=Rome"`.
    /// - Throws: `PrismError` naming an item that is not `Country=Capital`.
    static func parsePairs(_ text: String) throws -> [CapitalsStudy.Pair] {
        let pairs = try text.split(separator: ",").map { item in
            let kv = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else { throw PrismError("--pairs: '\(item)' is not Country=Capital") }
            return CapitalsStudy.Pair(country: kv[0], capital: kv[1])
        }
        guard !pairs.isEmpty else { throw PrismError("--pairs is empty: give Country=Capital pairs, e.g. France=Paris,Germany=Berlin") }
        var seen = Set<String>()
        for p in pairs where !seen.insert(p.country).inserted { throw PrismError("--pairs names \(p.country) twice") }
        return pairs
    }
}

struct AdditionStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addition",
        abstract: "\"7+2=\": which MLP layer carries the answer, and its neurons' digit templates.",
        discussion: """
            Figures: (1) the residual prism per digit; (2) the templates of the layer's top neurons \
            (their contributions to the ten digit logits); (3) those contributions stacked per output \
            digit; and a summary over every a+b= (a, b in 1..9) of how often the summed templates peak \
            at the right digit, one-digit and two-digit sums counted apart (a two-digit sum's first \
            digit is always "1"). Default prefix on a real Gemma vocabulary: "2+3=5\\n4+4=8\\n1+6=7\\n"; \
            none on a small one (see `prism study --help`).

              prism study addition -m models/tiny-gemma.prism
              prism study addition -m models/gemma-3-270m.prism
            """
    )

    @OptionGroup var study: StudyOptions

    @Option(help: "Prompt template; {a} and {b} are replaced (\\n: newline).")
    var template = "{a}+{b}="

    @Option(help: "Text before every prompt, e.g. a few-shot prefix (\\n: newline; \"\": none). Default: the model's (see above).")
    var prefix: String?

    @Option(help: "The example prompt's a and b, e.g. 7,2.")
    var example = "7,2"

    @Option(parsing: .unconditional, help: "How many neurons to show.")
    var neurons = 8

    @Option(parsing: .unconditional, help: "MLP layer to study (default: the one that separates the right digit most).")
    var layer: Int?

    func run() throws {
        try CLI.guarded {
            let ab = example.split(separator: ",").compactMap { Int($0) }
            guard ab.count == 2, (0...9).contains(ab[0]), (0...9).contains(ab[1]) else { throw PrismError("--example takes two digits, e.g. 7,2") }
            guard neurons > 0 else { throw PrismError("--neurons must be positive") }
            var s = AdditionStudy()
            (s.template, s.prefix) = try studyText(template: template, prefix: prefix)
            s.example = (ab[0], ab[1])
            s.neurons = neurons
            s.layer = layer
            let (r, dir) = try study.run("addition") { ctx, dir, force in try s.run(ctx, output: dir, force: force) }
            notePrefix(r.prefix, isDefault: r.prefixIsDefault)
            print("wrote \(dir)/index.html: layer \(r.layer); \(AdditionStudy.headline(r, layer: r.layer, neurons: neurons))")
        }
    }
}

struct DigitsStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digits",
        abstract: "The ten digit unembeddings projected to 2-D by PCA, joined 0-1-...-9-0.",
        discussion: "Reports the explained variance, how symmetric the shape is about the 0-5 axis, and whether the digits go round the centre in order."
    )

    @OptionGroup var study: StudyOptions

    func run() throws {
        try CLI.guarded {
            let (r, dir) = try study.run("digits") { ctx, dir, force in try DigitsStudy().run(ctx, output: dir, force: force) }
            print(
                "wrote \(dir)/index.html: explained variance \(String(format: "%.1f", r.explained.0 * 100))% + \(String(format: "%.1f", r.explained.1 * 100))%, asymmetry \(String(format: "%.3f", r.asymmetry)); order round the centre \(r.angularOrder.map(String.init).joined(separator: " ")) (\(r.ringNeighbours)/10 pairs k, k+1 adjacent)"
            )
        }
    }
}

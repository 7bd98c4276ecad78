import ArgumentParser
import Foundation
import PrismSupport

@main
struct PrismCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prism",
        abstract: "Explain why a Gemma model predicts the token it predicts.",
        discussion: """
            Models (-m): .prism files written by `prism convert`, or Hugging Face \
            checkpoint directories (config.json, *.safetensors, tokenizer.json). \
            Prompts: text (--prompt) or token ids (--ids 2,651,6037). Start with:
              prism decompose -m models/tiny-gemma.prism \\
                --prompt "The capital of France is" --target-token " Paris"
            """,
        version: PrismVersion.string,
        subcommands: [
            DecomposeCommand.self, ExploreCommand.self, LensCommand.self, PathsCommand.self, StudyCommand.self,
            BatchCommand.self, MergeCommand.self, SummarizeCommand.self, RunCommand.self,
            LogitsCommand.self, GenerateCommand.self, TokenizeCommand.self, DetokenizeCommand.self,
            ConvertCommand.self, InspectCommand.self, VerifyCommand.self, BenchCommand.self, BenchChildCommand.self,
        ]
    )

    /// Answers `prism study NAME` with an unknown NAME as such (the parser alone would say
    /// "Unknown option '-m'", the first thing it cannot place), then runs as usual.
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        if let problem = StudyCommand.unknownStudy(args) {
            FileHandle.standardError.write(Data("error: \(problem)\n".utf8))
            Foundation.exit(1)
        }
        main(args)
    }
}

extension StudyCommand {
    /// The one-line error for `study` followed by a word that names no study, or nil.
    static func unknownStudy(_ args: [String]) -> String? {
        guard args.first == "study", args.count > 1, !args[1].hasPrefix("-") else { return nil }
        let names = configuration.subcommands.compactMap { $0.configuration.commandName }
        let given = args[1]
        guard !names.contains(given), given != "help" else { return nil }
        let close = names.first { $0.hasPrefix(given) || given.hasPrefix($0) }
        return "unknown study '\(given)' (the studies are \(names.joined(separator: ", "))\(close.map { "; did you mean \($0)?" } ?? ""))"
    }
}

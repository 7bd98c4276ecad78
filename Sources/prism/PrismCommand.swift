import ArgumentParser
import PrismSupport

@main
struct PrismCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prism",
        abstract: "Explain why a Gemma model predicts the token it predicts.",
        discussion: """
            Models (-m): .prism files written by `prism convert`, or Hugging Face
            checkpoint directories (config.json, *.safetensors, tokenizer.json).
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
}

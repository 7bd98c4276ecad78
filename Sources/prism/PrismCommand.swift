import ArgumentParser

@main
struct PrismCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prism",
        abstract: "Explain why a Gemma model predicts the token it predicts.",
        discussion: """
        Models are Hugging Face checkpoint directories (config.json, *.safetensors, tokenizer.json)
        or .prism files written by `prism convert`.
        Prompts are text (--prompt) or token ids (--ids 2,651,6037).
        """,
        subcommands: [LogitsCommand.self, GenerateCommand.self, RunCommand.self, DecomposeCommand.self, LensCommand.self, PathsCommand.self, StudyCommand.self, BatchCommand.self, MergeCommand.self, SummarizeCommand.self, BenchCommand.self, BenchChildCommand.self, TokenizeCommand.self, DetokenizeCommand.self, ConvertCommand.self, InspectCommand.self, VerifyCommand.self]
    )
}

/// The one error type users see: a single line that names the file, tensor or
/// value at fault. The CLI prints `error: <message>` and exits non-zero.
/// Code that must tell errors apart branches on `kind`, never on the message's text.
public struct PrismError: Error, CustomStringConvertible, Equatable {
    /// What a caller may act on; the message is for people.
    public enum Kind: Sendable, Equatable {
        /// Nothing a caller branches on.
        case general
        /// A tokenizer.json's content is malformed or unsupported; `detail` is the message
        /// after "tokenizer.json: ", so a reader of a named file can put its path there instead.
        case tokenizerJSON(detail: String)
        /// A memory budget (`--max-memory`) too small for a planned run even with streamed
        /// weights: a caller that can make the run smaller (fewer prompts in a chunk) tries again.
        case overBudget
    }

    public let message: String
    public let kind: Kind
    public init(_ message: String, kind: Kind = .general) {
        self.message = message
        self.kind = kind
    }
    public var description: String { message }
}

extension PrismError {
    /// Wraps any error with a context prefix, keeping one line (the kind is not kept: the
    /// wrapped error is about the context now).
    public static func wrap(_ error: Error, _ context: String) -> PrismError {
        let inner = (error as? PrismError)?.message ?? String(describing: error)
        return PrismError("\(context): \(inner)")
    }

    /// A fault in a tokenizer.json's content: "tokenizer.json: `detail`", of kind `.tokenizerJSON`.
    public static func tokenizerJSON(_ detail: String) -> PrismError {
        PrismError("tokenizer.json: \(detail)", kind: .tokenizerJSON(detail: detail))
    }
}

/// The one error type users see: a single line that names the file, tensor or
/// value at fault. The CLI prints `error: <message>` and exits non-zero.
public struct PrismError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension PrismError {
    /// Wraps any error with a context prefix, keeping one line.
    public static func wrap(_ error: Error, _ context: String) -> PrismError {
        let inner = (error as? PrismError)?.message ?? String(describing: error)
        return PrismError("\(context): \(inner)")
    }
}

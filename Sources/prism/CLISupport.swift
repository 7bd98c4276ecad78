import ArgumentParser
import Foundation
import PrismSupport

enum CLI {
    /// The largest count a user may ask for (`--top`, `--max-tokens`, `--tokens`, `--repeats`):
    /// far above any model's components or context, far below where `Int` arithmetic on it
    /// overflows (a `--top 9223372036854775807` trapped).
    static let maxCount = 1 << 24

    /// Counts such as prompt lengths and repeats: at least 1, at most `maxCount`.
    /// - Throws: `ValidationError` naming `option`.
    static func checkCounts(_ option: String, _ values: [Int]) throws {
        for v in values where v < 1 || v > maxCount { throw ValidationError("\(option) must be between 1 and \(maxCount), not \(v)") }
    }

    /// Runs `body`; a PrismError becomes `error: <message>` on stderr and exit code 1,
    /// never a crash or a stack trace.
    /// Output on stdout that could not be written (`> /dev/full`, a full disk) is an error too.
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
            // Results computed from a model rewritten under the command are not good results.
            try MappedFile.checkAllUnchanged()
            try flushStandardOutput()
        } catch let e as PrismError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Flushes stdout and checks that everything printed reached it.
    static func flushStandardOutput() throws {
        errno = 0
        let flushed = fflush(stdout) == 0
        let code = errno
        guard flushed, ferror(stdout) == 0 else {
            clearerr(stdout)
            let reason = code != 0 ? String(cString: strerror(code)) : "write error"
            throw PrismError("cannot write standard output: \(reason)")
        }
    }
}

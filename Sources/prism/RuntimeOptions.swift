import ArgumentParser
import Foundation
import PrismKernels
import PrismModel
import PrismSession
import PrismSupport

/// `--max-memory SIZE`, `--threads N` and `--stats`, on every command that runs the model.
struct RuntimeOptions: ParsableArguments {
    @Option(
        name: .customLong("max-memory"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Memory budget (e.g. 512MiB, 1GiB). The working set is planned before starting; when the model does not fit, each layer's weight pages are released once used.",
            valueName: "size"))
    var maxMemory: String?

    @Flag(help: "Print time, peak RSS, weight bytes read and threads to stderr.")
    var stats = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Threads to split each product over (default: the CPUs this process may use, by its affinity mask and cgroup CPU quota: \(CPUs.available) here). Results do not depend on it.",
            valueName: "n"))
    var threads: Int?

    @Flag(
        help:
            "Multiply int8 weights with fp32 activations everywhere (exact with respect to the stored weights; slower). By default activations are quantized to int8 per block of 32, except where the prisms split a product."
    )
    var exactActivations = false

    func validate() throws {
        if let threads, threads < 1 || threads > 1024 {
            throw ValidationError("--threads must be between 1 and 1024, not \(threads) (more threads than CPUs only adds switching)")
        }
        if let maxMemory {
            do { _ = try ByteSize.parse(maxMemory) } catch let e as PrismError { throw ValidationError(e.message) }
        }
    }

    var budget: Int? { maxMemory.flatMap { try? ByteSize.parse($0) } }

    /// `--threads`, or the CPUs this process may use.
    var threadCount: Int { threads ?? CPUs.available }

    /// How products with int8 weights treat activations.
    var route: ActivationRoute { exactActivations ? .exact : .int8 }

    final class Clock {
        let start = Date()
    }

    /// With `--stats`: time, peak RSS, and what the session's runs read.
    func report(_ clock: Clock, session: PrismSession?, extra: String = "") {
        guard stats else { return }
        let seconds = Date().timeIntervalSince(clock.start)
        var line: String
        if let session {
            line = session.statsLine(seconds: seconds)
        } else {
            line = "stats: \(String(format2: seconds)) s, peak RSS \(ByteSize.format(ResourceUsage.peakRSS))"
            if let budget { line += ", budget \(ByteSize.format(budget))" }
            line += ", threads \(threadCount)"
        }
        fflush(stdout)
        FileHandle.standardError.write(Data((line + extra + "\n").utf8))
    }
}

import Foundation

/// A progress bar with rate and ETA on a terminal; plain lines every few percent otherwise
/// (logs of batch schedulers). Writes to stderr so stdout stays clean for data.
public final class Progress: @unchecked Sendable {
    let label: String
    let total: Int
    let unit: String
    let scale: Double
    let start = Date()
    let isTerminal = isatty(STDERR_FILENO) != 0
    var lastDraw = Date.distantPast
    var lastPercent = -1
    var drawn = false
    public var quiet = false
    /// Draw nothing until this many seconds have passed (a command that ends sooner shows none).
    public var delay: TimeInterval = 0

    /// `unit` is "B" for bytes (rates in MB/s) or a noun such as "prompts".
    public init(label: String, total: Int, unit: String = "B") {
        self.label = label
        self.total = max(1, total)
        self.unit = unit
        scale = unit == "B" ? 1e6 : 1
    }

    public func update(_ done: Int, force: Bool = false) {
        guard !quiet else { return }
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        guard elapsed >= delay else { return }
        drawn = true
        let fraction = min(1, Double(done) / Double(total))
        let percent = Int(fraction * 100)
        let rate = elapsed > 0 ? Double(done) / elapsed / scale : 0
        let rateText = unit == "B" ? "\(String(format2: rate)) MB/s" : "\(String(format2: rate)) \(unit)/s"
        let eta = rate > 0 ? (Double(total - done) / scale) / rate : 0
        if isTerminal {
            guard force || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
            let line = "\r\(label) [\(bar)] \(percent)% \(rateText) ETA \(Int(eta.rounded()))s "
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            guard force || percent >= lastPercent + 10 else { return }
            lastPercent = percent
            FileHandle.standardError.write(Data("\(label): \(percent)% \(rateText) ETA \(Int(eta.rounded()))s\n".utf8))
        }
    }

    public func finish() {
        guard !quiet else { return }
        // A log already holding the 100% line gets no second one.
        if !isTerminal && lastPercent >= 100 { return }
        update(total, force: true)
        if isTerminal && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// A bar on a terminal once `terminalDelay` seconds have passed; piped or logged (a batch
    /// scheduler's log), plain lines every tenth once `logDelay` seconds have passed, so a quick
    /// command prints nothing and a long one is not silent for minutes.
    public static func delayed(label: String, total: Int, unit: String, terminalDelay: TimeInterval, logDelay: TimeInterval) -> Progress {
        let p = Progress(label: label, total: total, unit: unit)
        p.delay = p.isTerminal ? terminalDelay : logDelay
        return p
    }
}

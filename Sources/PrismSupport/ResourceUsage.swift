import Foundation

#if canImport(Glibc)
import Glibc
#endif

public enum ResourceUsage {
    /// Peak resident set size of this process so far, in bytes: the high-water mark of its own
    /// address space (`VmHWM`), which starts afresh at exec. The kernel's `ru_maxrss` does not: it
    /// keeps the resident size the launching process had when it forked (a 2 GiB notebook starting
    /// `prism` would make every `--stats` say 2 GiB); it is the fallback where /proc is missing.
    public static var peakRSS: Int {
        if let hwm = statusField("VmHWM:") { return hwm }
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }

    /// Memory the kernel could give without swapping (`MemAvailable` of /proc/meminfo), in bytes;
    /// nil where /proc is missing.
    public static var memoryAvailable: Int? { statusField("MemAvailable:", file: "/proc/meminfo") }

    /// A `kB` field of /proc/self/status (or `file`), in bytes.
    static func statusField(_ name: String, file: String = "/proc/self/status") -> Int? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kB = Int(fields[1]) else { return nil }
            return kB * 1024
        }
        return nil
    }

    /// Current resident set size, from /proc/self/statm (pages).
    public static var currentRSS: Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = text.split(separator: " ")
        guard parts.count >= 2, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

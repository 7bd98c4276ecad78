import Foundation

#if canImport(Glibc)
import Glibc
#endif

public enum ResourceUsage {
    /// Peak resident set size of this process so far, in bytes (the kernel's ru_maxrss).
    public static var peakRSS: Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }

    /// Current resident set size, from /proc/self/statm (pages).
    public static var currentRSS: Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = text.split(separator: " ")
        guard parts.count >= 2, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

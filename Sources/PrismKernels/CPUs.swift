import CBLAS
import CPrismKernels
import Foundation

/// How many CPUs this process may keep busy: the smaller of its affinity mask and its cgroup's
/// CPU quota. `ProcessInfo.activeProcessorCount` sees the affinity mask only, so in a container
/// or a Slurm step limited by a quota (`docker --cpus`, `cpu.max`, `cpu.cfs_quota_us`) it
/// reports every CPU of the host, and threads beyond the quota only queue behind each other.
public enum CPUs {
    /// The CPUs this process may use (at least 1), computed once: the default thread count of
    /// every product split over cores (`--threads` overrides it).
    public static let available: Int = {
        let affinity = Int(prism_affinity_cpus())
        let fallback = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return usable(affinity: affinity > 0 ? affinity : fallback, quota: cgroupQuota(read: readSystemFile))
    }()

    /// Caps OpenBLAS's own thread pool (the f32 and dequantized-tile products) at `n`: it counts
    /// the affinity mask only, never a cgroup quota. Process-wide, unlike the int8 kernels'
    /// per-call `threads`, so the CLI sets it once from `--threads`.
    public static func limitBLAS(to n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// `min(affinity, quota)`, at least 1. `quota`: nil when there is none.
    public static func usable(affinity: Int, quota: Int?) -> Int {
        max(1, min(affinity, quota ?? Int.max))
    }

    /// The CPU quota of this process's cgroups, in whole CPUs rounded up (1.5 CPUs -> 2), the
    /// smallest over every level of the hierarchy from the process's cgroup up to the mount's
    /// root (a quota on a parent limits its children), for cgroup v2 (`cpu.max`) and v1 (`cpu`
    /// controller: `cpu.cfs_quota_us` / `cpu.cfs_period_us`) alike.
    ///
    /// A pure function of the files it reads, so tests can feed sample contents.
    /// - Parameter read: a file's contents by absolute path, or nil when it cannot be read.
    ///   It is asked for `/proc/self/cgroup`, `/proc/self/mountinfo` and the quota files.
    /// - Returns: nil when there is no quota, or none that could be read or understood
    ///   (malformed contents are ignored: the affinity count then stands).
    public static func cgroupQuota(read: (String) -> String?) -> Int? {
        guard let membership = read("/proc/self/cgroup") else { return nil }
        let mounts = read("/proc/self/mountinfo").map(parseMountinfo) ?? []
        var limits: [Int] = []
        for m in parseCgroupMembership(membership) {
            // Without mountinfo (or without the mount in it): the usual places.
            let mount =
                mounts.first { $0.version == m.version }
                ?? CgroupMount(version: m.version, root: "/", mountPoint: m.version == 2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu")
            for dir in mount.directories(for: m.path) {
                let limit: Int?
                if m.version == 2 {
                    limit = read(dir + "/cpu.max").flatMap(parseCPUMax)
                } else if let q = read(dir + "/cpu.cfs_quota_us"), let p = read(dir + "/cpu.cfs_period_us") {
                    limit = parseCFS(quota: q, period: p)
                } else {
                    limit = nil
                }
                if let limit { limits.append(limit) }
            }
        }
        return limits.min()
    }

    /// cgroup v2 `cpu.max`: `"max 100000"` (no limit) or `"QUOTA PERIOD"` in microseconds.
    /// - Returns: `ceil(QUOTA / PERIOD)`, or nil for no limit or malformed contents.
    public static func parseCPUMax(_ contents: String) -> Int? {
        let f = contents.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard f.count == 2, f[0] != "max", let quota = Int(f[0]), let period = Int(f[1]) else { return nil }
        return wholeCPUs(quota: quota, period: period)
    }

    /// cgroup v1 `cpu.cfs_quota_us` (`-1`: no limit) and `cpu.cfs_period_us`, in microseconds.
    /// - Returns: `ceil(quota / period)`, or nil for no limit or malformed contents.
    public static func parseCFS(quota: String, period: String) -> Int? {
        let trim = { (s: String) in s.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let q = Int(trim(quota)), let p = Int(trim(period)) else { return nil }
        return wholeCPUs(quota: q, period: p)
    }

    /// A quota in whole CPUs, rounded up (a 0.5-CPU quota still runs one thread); nil unless
    /// both are positive (v1's `-1` means none).
    static func wholeCPUs(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return quota / period + (quota % period == 0 ? 0 : 1)
    }

    /// A cgroup this process belongs to that can hold a CPU quota: the v2 hierarchy, or a v1
    /// hierarchy with the `cpu` controller.
    struct Membership: Equatable {
        let version: Int
        let path: String
    }

    /// `/proc/self/cgroup`: lines `ID:CONTROLLERS:PATH`; v2 is `0::PATH`, v1's cpu hierarchy
    /// lists `cpu` among its controllers (`4:cpu,cpuacct:/docker/abc`). Other lines are skipped.
    static func parseCgroupMembership(_ contents: String) -> [Membership] {
        contents.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, f[2].hasPrefix("/") else { return nil }
            if f[0] == "0" && f[1].isEmpty { return Membership(version: 2, path: String(f[2])) }
            if f[1].split(separator: ",").contains("cpu") { return Membership(version: 1, path: String(f[2])) }
            return nil
        }
    }

    /// A mounted cgroup hierarchy (from `/proc/self/mountinfo`).
    struct CgroupMount: Equatable {
        let version: Int
        /// The cgroup the mount shows at its mount point (not `/` inside some containers).
        let root: String
        let mountPoint: String

        /// The directories of cgroup `path` and of its ancestors up to the mount point,
        /// innermost first. A path outside the mount's root (a container seeing its host's
        /// path) is taken as relative to the mount point.
        func directories(for path: String) -> [String] {
            var rel = path
            if root != "/" && (rel == root || rel.hasPrefix(root + "/")) { rel = String(rel.dropFirst(root.count)) }
            var parts = rel.split(separator: "/").map(String.init)
            // A path with `..` would climb out of the mount: never read outside it.
            if parts.contains("..") { parts = [] }
            var out: [String] = []
            while true {
                out.append(([mountPoint] + parts).joined(separator: "/"))
                if parts.isEmpty { return out }
                parts.removeLast()
            }
        }
    }

    /// `/proc/self/mountinfo` lines: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS`.
    /// Keeps the `cgroup2` mounts and the v1 `cgroup` mounts with the `cpu` controller.
    static func parseMountinfo(_ contents: String) -> [CgroupMount] {
        contents.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            guard let dash = f.firstIndex(of: "-"), dash >= 5, f.count >= dash + 4 else { return nil }
            let fstype = f[dash + 1], superOptions = f[dash + 3].split(separator: ",")
            // mountinfo escapes a space in a path as \040.
            let root = f[3].replacingOccurrences(of: "\\040", with: " ")
            let point = f[4].replacingOccurrences(of: "\\040", with: " ")
            if fstype == "cgroup2" { return CgroupMount(version: 2, root: root, mountPoint: point) }
            if fstype == "cgroup" && superOptions.contains("cpu") { return CgroupMount(version: 1, root: root, mountPoint: point) }
            return nil
        }
    }

    /// A small system file's contents, or nil when it is absent or unreadable: an absent
    /// cgroup file only means that limit does not apply here.
    static func readSystemFile(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}

import CPrismKernels
import Foundation
import XCTest

@testable import PrismKernels

/// The CPUs this process may use: the cgroup quota parsed from sample files (a dictionary of
/// path -> contents stands for the file system), then the smaller of it and the affinity count.
final class CPUsTests: XCTestCase {
    /// A v2-only host: one `cgroup2` mount at /sys/fs/cgroup.
    static let v2Mountinfo = """
        22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
        29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        """

    /// A v1 host: the cpu controller co-mounted with cpuacct, plus an unrelated memory hierarchy.
    static let v1Mountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        """

    static let v1Membership = """
        5:memory:/slurm/uid_0/job_7/step_0
        4:cpu,cpuacct:/slurm/uid_0/job_7/step_0
        1:name=systemd:/
        """

    func quota(_ files: [String: String]) -> Int? {
        CPUs.cgroupQuota { files[$0] }
    }

    func testV2QuotaIsRoundedUp() {
        let files = [
            "/proc/self/cgroup": "0::/user.slice/job.scope\n", "/proc/self/mountinfo": Self.v2Mountinfo,
            "/sys/fs/cgroup/user.slice/job.scope/cpu.max": "150000 100000\n",
        ]
        XCTAssertEqual(quota(files), 2)
        XCTAssertEqual(CPUs.usable(affinity: 8, quota: quota(files)), 2)
    }

    func testV2NoLimit() {
        let files = [
            "/proc/self/cgroup": "0::/a\n", "/proc/self/mountinfo": Self.v2Mountinfo,
            "/sys/fs/cgroup/a/cpu.max": "max 100000\n", "/sys/fs/cgroup/cpu.max": "max 100000\n",
        ]
        XCTAssertNil(quota(files))
        XCTAssertEqual(CPUs.usable(affinity: 6, quota: quota(files)), 6)
    }

    /// A quota set on a parent (a Slurm job) limits the step below it; the smallest level wins.
    func testV2ParentQuotaLimitsTheChild() {
        let files = [
            "/proc/self/cgroup": "0::/job/step\n", "/proc/self/mountinfo": Self.v2Mountinfo,
            "/sys/fs/cgroup/job/step/cpu.max": "max 100000", "/sys/fs/cgroup/job/cpu.max": "300000 100000",
            "/sys/fs/cgroup/cpu.max": "max 100000",
        ]
        XCTAssertEqual(quota(files), 3)
        var tighter = files
        tighter["/sys/fs/cgroup/job/step/cpu.max"] = "100000 100000"
        XCTAssertEqual(quota(tighter), 1)
    }

    /// A fraction of a CPU still runs one thread.
    func testFractionalQuotaRoundsUpToOne() {
        XCTAssertEqual(CPUs.parseCPUMax("50000 100000"), 1)
        XCTAssertEqual(CPUs.parseCPUMax("200001 100000"), 3)
        XCTAssertEqual(CPUs.parseCFS(quota: "25000\n", period: "100000\n"), 1)
        XCTAssertEqual(CPUs.usable(affinity: 4, quota: 1), 1)
    }

    func testV1QuotaUnderTheCPUControllersMount() {
        var files = [
            "/proc/self/cgroup": Self.v1Membership, "/proc/self/mountinfo": Self.v1Mountinfo,
            "/sys/fs/cgroup/cpu,cpuacct/slurm/uid_0/job_7/step_0/cpu.cfs_quota_us": "250000\n",
            "/sys/fs/cgroup/cpu,cpuacct/slurm/uid_0/job_7/step_0/cpu.cfs_period_us": "100000\n",
        ]
        XCTAssertEqual(quota(files), 3)
        // -1: no quota at this level.
        files["/sys/fs/cgroup/cpu,cpuacct/slurm/uid_0/job_7/step_0/cpu.cfs_quota_us"] = "-1\n"
        XCTAssertNil(quota(files))
        // The memory hierarchy's files are never read as a CPU quota.
        files["/sys/fs/cgroup/memory/slurm/uid_0/job_7/step_0/cpu.cfs_quota_us"] = "100000"
        files["/sys/fs/cgroup/memory/slurm/uid_0/job_7/step_0/cpu.cfs_period_us"] = "100000"
        XCTAssertNil(quota(files))
    }

    /// Inside a container the mount's root is the container's own cgroup: the path in
    /// /proc/self/cgroup is taken relative to it.
    func testV1ContainerRootIsStripped() {
        let mountinfo = "40 31 0:29 /docker/abc /sys/fs/cgroup/cpu ro,nosuid - cgroup cpu rw,cpu\n"
        let files = [
            "/proc/self/cgroup": "3:cpu:/docker/abc\n", "/proc/self/mountinfo": mountinfo,
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "200000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
        ]
        XCTAssertEqual(quota(files), 2)
    }

    /// A hybrid host (v1 cpu controller, an empty v2 hierarchy) reads the v1 quota.
    func testHybridTakesTheSmallest() {
        let mountinfo = Self.v1Mountinfo + "\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
        let files = [
            "/proc/self/cgroup": "4:cpu,cpuacct:/\n0::/\n", "/proc/self/mountinfo": mountinfo,
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "100000", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000",
        ]
        XCTAssertEqual(quota(files), 1)
    }

    /// Without mountinfo the usual mount points are tried.
    func testDefaultMountPoints() {
        XCTAssertEqual(quota(["/proc/self/cgroup": "0::/x\n", "/sys/fs/cgroup/x/cpu.max": "400000 100000"]), 4)
        XCTAssertEqual(
            quota([
                "/proc/self/cgroup": "2:cpu:/\n", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "300000",
                "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
            ]), 3)
    }

    /// Malformed contents are ignored: no quota, so the affinity count stands.
    func testMalformedContentsAreIgnored() {
        for bad in ["", "max", "150000", "abc 100000", "150000 0", "0 100000", "-5 100000", "150000 100000 7", "1.5 1"] {
            XCTAssertNil(CPUs.parseCPUMax(bad), bad)
        }
        XCTAssertNil(CPUs.parseCFS(quota: "lots", period: "100000"))
        XCTAssertNil(CPUs.parseCFS(quota: "100000", period: ""))
        XCTAssertNil(CPUs.parseCFS(quota: "100000", period: "-1"))
        let files = ["/proc/self/cgroup": "0::/a\n", "/proc/self/mountinfo": Self.v2Mountinfo, "/sys/fs/cgroup/a/cpu.max": "garbage\n"]
        XCTAssertNil(quota(files))
        XCTAssertEqual(CPUs.usable(affinity: 3, quota: quota(files)), 3)
        // Unreadable membership, or lines that are not cgroup lines: no quota.
        XCTAssertNil(quota([:]))
        XCTAssertNil(
            quota([
                "/proc/self/cgroup": "not a cgroup file\n::\n7:cpu:relative\n", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000",
                "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
            ]))
    }

    /// A path climbing out with `..` is never followed outside the mount.
    func testDotDotStaysInsideTheMount() {
        let files = [
            "/proc/self/cgroup": "0::/../../etc\n", "/proc/self/mountinfo": Self.v2Mountinfo,
            "/etc/cpu.max": "100000 100000", "/sys/fs/cgroup/cpu.max": "200000 100000",
        ]
        XCTAssertEqual(quota(files), 2)
    }

    func testUsableIsAtLeastOne() {
        XCTAssertEqual(CPUs.usable(affinity: 0, quota: nil), 1)
        XCTAssertEqual(CPUs.usable(affinity: 4, quota: nil), 4)
        XCTAssertEqual(CPUs.usable(affinity: 2, quota: 16), 2)
        XCTAssertGreaterThanOrEqual(CPUs.available, 1)
        // Never more than the affinity mask allows (when the mask can be read).
        let affinity = Int(prism_affinity_cpus())
        if affinity > 0 { XCTAssertLessThanOrEqual(CPUs.available, affinity) }
    }
}

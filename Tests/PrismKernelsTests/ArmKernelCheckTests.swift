import Foundation
import XCTest

/// The aarch64 kernels (NEON, NEON + sdot) against the portable loop on an x86 machine:
/// `tools/kernel_check_arm.sh` cross-compiles the C kernels with their static harness and runs it
/// under qemu-aarch64 as a CPU without and with the dot-product extension. Skipped where the cross
/// compiler or qemu is missing (Debian: gcc-aarch64-linux-gnu, qemu-user-static); on aarch64
/// itself the other kernel tests already run the NEON kernels natively.
final class ArmKernelCheckTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static func onPath(_ tool: String) -> Bool {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    func testNEONKernelsEqualThePortableLoopUnderQEMU() throws {
        #if arch(x86_64)
        try XCTSkipUnless(Self.onPath("aarch64-linux-gnu-gcc"), "no aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu)")
        try XCTSkipUnless(
            Self.onPath("qemu-aarch64-static") || Self.onPath("qemu-aarch64"), "no qemu-aarch64 (apt-get install qemu-user-static)")
        #else
        throw XCTSkip("not an x86-64 host: the kernel tests run this CPU's kernels natively")
        #endif
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Self.root.appendingPathComponent("tools/kernel_check_arm.sh").path]
        p.currentDirectoryURL = Self.root
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, "tools/kernel_check_arm.sh failed:\n\(text.suffix(4000))")
        // Both kernels ran, each on the CPU model that selects it.
        XCTAssertTrue(text.contains("CPU's best int8 kernel: neon;"), text.suffix(2000).description)
        XCTAssertTrue(text.contains("CPU's best int8 kernel: neon-dotprod;"), text.suffix(2000).description)
        XCTAssertFalse(text.contains("FAIL"), text.suffix(4000).description)
        // The pull-back and the weight quantizer took their NEON loops with both kernels (a
        // `loops` line per kernel says which loop ran how many checks).
        for kernel in ["neon ", "neon-dotprod"] {
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("loops \(kernel)") }
            XCTAssertFalse(lines.isEmpty, "no loops line for \(kernel)")
            for line in lines {
                XCTAssertNotNil(line.range(of: #"pull-back: neon [1-9]"#, options: .regularExpression), String(line))
                XCTAssertNotNil(line.range(of: #"weight quantizer: neon [1-9]"#, options: .regularExpression), String(line))
            }
        }
    }
}

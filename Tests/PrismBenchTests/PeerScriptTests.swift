import Foundation
import XCTest

@testable import PrismBench

/// `prism bench` run outside the repository finds the peer script of the repository its binary
/// was built in (a fresh user ran it from their home directory and was told the script is missing).
final class PeerScriptTests: XCTestCase {
    var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "peer-script-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/repo/tools", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/repo/.build/x86_64-unknown-linux-gnu/release", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try Data("print(1)\n".utf8).write(to: URL(fileURLWithPath: root + "/repo/" + BenchSuite.peerScriptName))
    }

    override func tearDownWithError() throws { if let root { try FileManager.default.removeItem(atPath: root) } }

    func testFoundAboveTheExecutableWhenNotInTheWorkingDirectory() {
        let exe = root + "/repo/.build/x86_64-unknown-linux-gnu/release/prism"
        XCTAssertEqual(BenchSuite.defaultPeerScript(executable: exe, workingDirectory: root + "/elsewhere"), root + "/repo/tools/bench_llamacpp.py")
    }

    func testTheWorkingDirectoryComesFirst() {
        let exe = root + "/elsewhere/prism"
        XCTAssertEqual(BenchSuite.defaultPeerScript(executable: exe, workingDirectory: root + "/repo"), BenchSuite.peerScriptName)
    }

    func testNowhereGivesTheRelativeNameThatMeasureReports() {
        let exe = root + "/elsewhere/bin/prism"
        XCTAssertEqual(BenchSuite.defaultPeerScript(executable: exe, workingDirectory: root + "/elsewhere"), BenchSuite.peerScriptName)
    }
}

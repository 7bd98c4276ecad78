import Foundation
import PrismSupport
import XCTest

/// A fresh directory per test, removed afterwards (only what the test made lives there).
class TemporaryDirectoryTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "prism-support-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: dir)
    }

    func write(_ text: String, _ path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func read(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    }

    func list(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    /// Every file under `path` with its contents (a set's exact state, hidden files included).
    func snapshot(_ path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try list(path) { out[name] = try read(path + "/" + name) }
        return out
    }

    /// The message of the `PrismError` thrown by `body` (fails the test if none is thrown).
    func message(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
            return ""
        } catch let e as PrismError {
            return e.message
        } catch {
            XCTFail("expected a PrismError, got \(error)", file: file, line: line)
            return ""
        }
    }
}

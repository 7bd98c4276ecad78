import Foundation
import XCTest

/// Each study's summary.json, written by `prism study NAME` on the shipped model, validates
/// against docs/schema/study-summary.schema.json (Python's `jsonschema` through
/// tools/validate_json.py; skipped with a message where it is not installed), and a summary
/// with a key missing or of the wrong type is refused.
final class StudySummarySchemaTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let shipped = root + "/models/tiny-gemma.prism"
    static let schema = root + "/docs/schema/study-summary.schema.json"
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "study-schema-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func validate(_ files: [String]) throws -> CLIRunner.Result {
        try CLIRunner.runProcess("/usr/bin/env", ["python3", Self.root + "/tools/validate_json.py", Self.schema] + files)
    }

    func requireJSONSchema() throws {
        let r = try CLIRunner.runProcess("/usr/bin/env", ["python3", "-c", "import jsonschema"])
        if r.status != 0 { throw XCTSkip("python3 cannot import jsonschema: pip install -r tools/requirements-schema.txt to validate the study summaries") }
    }

    /// Runs `prism study NAME` on the shipped model into its own folder; returns its summary.json.
    func summary(_ study: String) throws -> String {
        let out = dir + "/" + study
        let r = try CLIRunner.run(["study", study, "-m", Self.shipped, "-o", out])
        XCTAssertEqual(r.status, 0, "study \(study): \(r.stderr)")
        return out + "/summary.json"
    }

    func testStudySummariesValidate() throws {
        try requireJSONSchema()
        let files = try ["capitals", "addition", "digits"].map(summary)
        let r = try validate(files)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// The schema is not vacuous: a capitals summary without `head`, an addition summary whose
    /// one-digit counts lose a field, and a digits summary with nine coordinates are refused.
    func testSchemaRefusesBrokenSummaries() throws {
        try requireJSONSchema()
        func broken(_ study: String, _ change: (inout [String: Any]) -> Void) throws -> String {
            let path = try summary(study)
            var o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            change(&o)
            let bad = dir + "/\(study)-broken.json"
            try JSONSerialization.data(withJSONObject: o).write(to: URL(fileURLWithPath: bad))
            return bad
        }
        let cases = [
            try broken("capitals") { $0.removeValue(forKey: "head") },
            try broken("addition") { o in
                var one = o["one_digit_sums"] as? [String: Any] ?? [:]
                one.removeValue(forKey: "peaks_model")
                o["one_digit_sums"] = one
            },
            try broken("digits") { o in o["coordinates"] = (o["coordinates"] as? [Any]).map { Array($0.dropLast()) } ?? [] },
        ]
        for path in cases {
            let r = try validate([path])
            XCTAssertEqual(r.status, 1, "\(path) should be refused: \(r.stderr)")
        }
    }
}

import Foundation
import XCTest

/// The JSON outputs validate against their schemas in docs/schema/ (by Python's `jsonschema`,
/// tools/validate_json.py; skipped with a message where it is not installed), the CSVs are tidy
/// (tools/check_tidy_csv.py, standard library only), and every output states the route it was
/// computed by and lists targets in command-line order.
final class OutputSchemaTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let f32 = CLIRunner.fixtures + "/tiny-f32"
    let int8 = OutputSchemaTests.root + "/models/tiny-gemma.prism"
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "schema-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func python(_ args: [String]) throws -> CLIRunner.Result {
        try CLIRunner.runProcess("/usr/bin/env", ["python3"] + args)
    }

    func requirePython(_ module: String? = nil) throws {
        let r = try python(["-c", "import csv, json" + (module.map { ", " + $0 } ?? "")])
        if r.status != 0 {
            throw XCTSkip(
                module.map { "python3 cannot import \($0): pip install -r tools/requirements-schema.txt to validate the JSON outputs" }
                    ?? "python3 is not available to read the CSVs")
        }
    }

    /// Runs prism, checks it succeeded and writes its stdout to `name` in the work directory.
    @discardableResult
    func output(_ name: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try CLIRunner.run(args)
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)", file: file, line: line)
        let path = dir + "/" + name
        try Data(r.stdout.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func validate(_ schema: String, _ files: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try python([Self.root + "/tools/validate_json.py", Self.root + "/docs/schema/\(schema).schema.json"] + files)
        XCTAssertEqual(r.status, 0, "\(schema): \(r.stderr)", file: file, line: line)
    }

    func json(_ path: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    func testJSONOutputsValidateAgainstTheirSchemas() throws {
        try requirePython("jsonschema")
        let prompt = ["--prompt", "The capital of France is"]
        let gemma2 = CLIRunner.fixtures + "/tiny-gemma2"
        try validate(
            "decompose",
            [
                try output("d1.json", ["decompose", "-m", f32] + prompt + ["--target", "680", "--target-diff", "#7", "#1000", "--json"]),
                try output("d2.json", ["decompose", "-m", f32] + prompt + ["--target-diff", "#7", "#1000", "--json", "--detail", "full"]),
                try output("d3.json", ["decompose", "-m", gemma2] + prompt + ["--target", "680", "--json"]),
                try output("d4.json", ["decompose", "-m", f32] + prompt + ["--target", "680", "--json", "--compare-f32", f32]),
            ])
        try output("run.out", ["run", "-m", f32] + prompt + ["-o", dir + "/f.acts"])
        try validate("decompose", [try output("d5.json", ["decompose", "-m", f32, "--acts", dir + "/f.acts", "--target", "680", "--json"])])
        try validate(
            "lens",
            [
                try output("l1.json", ["lens", "-m", f32] + prompt + ["--target", "680", "--target-diff", "#7", "#1000", "--json"]),
                try output("l2.json", ["lens", "-m", f32] + prompt + ["--target", "680", "--all-positions", "--norm", "frozen", "--json"]),
                try output("l3.json", ["lens", "-m", gemma2] + prompt + ["--target", "680", "--all-positions", "--json", "--top", "0"]),
                try output("l4.json", ["lens", "-m", f32, "--ids", "2,10,20"] + ["--json"]),
            ])
        try validate(
            "paths",
            [
                try output(
                    "p1.json",
                    ["paths", "-m", f32, "--ids", "2,10,20,30", "--target", "5", "--layer", "1", "--head", "2", "--source", "1", "--apply-to", "#7", "--json"]),
                try output("p2.json", ["paths", "-m", f32, "--ids", "2,10,20,30", "--target-diff", "#5", "#6", "--layer", "1", "--neuron", "7", "--json"]),
            ])
        try validate(
            "logits",
            [
                try output("g1.json", ["logits", "-m", f32, "--ids", "2,10,20", "--json"]),
                try output("g2.json", ["logits", "-m", int8, "--ids", "2,10,20", "--json", "--full", "--top", "3"]),
            ])
        // Batch lines (a record, an error record, a line that is no JSON) and the summary.
        let input = dir + "/in.jsonl"
        try Data(
            "{\"id\":\"a\",\"prompt\":\"The capital of France is\",\"targets\":[\" Paris\", \"#5\"]}\n{\"id\":\"b\",\"ids\":[2,5,6,7],\"targets\":[\"#5\"],\"position\":2}\n{\"id\":\"c\",\"prompt\":\"x\",\"targets\":[\"not one token at all\"]}\nnot json\n"
                .utf8
        ).write(to: URL(fileURLWithPath: input))
        let r = try CLIRunner.run(["batch", "-m", f32, "--input", input, "--output", dir + "/out.jsonl", "--summary", dir + "/summary.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try validate("batch-line", [dir + "/out.jsonl"])
        try validate("summary", [dir + "/summary.json"])
    }

    /// The schemas are strict enough to fail: an output without its route, with a point name the
    /// lens no longer lists, or with a term that is not a number is refused.
    func testSchemasRefuseWrongOutputs() throws {
        try requirePython("jsonschema")
        let good = try output("d.json", ["decompose", "-m", f32, "--ids", "2,10,20", "--target", "5", "--json"])
        var d = try json(good)
        d.removeValue(forKey: "route")
        let noRoute = dir + "/bad1.json"
        try JSONSerialization.data(withJSONObject: d).write(to: URL(fileURLWithPath: noRoute))
        var lens = try json(try output("l.json", ["lens", "-m", f32, "--ids", "2,10,20", "--target", "5", "--json"]))
        var points = try XCTUnwrap(lens["points"] as? [[String: Any]])
        points[1]["name"] = "blocks.1.resid_pre"
        lens["points"] = points
        let duplicate = dir + "/bad2.json"
        try JSONSerialization.data(withJSONObject: lens).write(to: URL(fileURLWithPath: duplicate))
        for (schema, path) in [("decompose", noRoute), ("lens", duplicate)] {
            let r = try python([Self.root + "/tools/validate_json.py", Self.root + "/docs/schema/\(schema).schema.json", path])
            XCTAssertEqual(r.status, 1, "\(schema) accepted \(path): \(r.stderr)")
        }
    }

    /// decompose --csv: long format, ids as columns, totals apart; grouping terms.csv by target and
    /// summing gives the logit (checked by Python's csv module); targets.json in command-line order.
    func testDecomposeCSVsAreTidy() throws {
        try requirePython()
        let out = dir + "/csv"
        let r = try CLIRunner.run([
            "decompose", "-m", int8, "--prompt", "The capital city of France is", "--target-diff", " Paris", " London",
            "--target-token", " Paris", "--target", "5", "--csv", out, "--npy", dir + "/npy",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let check = try python([Self.root + "/tools/check_tidy_csv.py", "decompose", out])
        XCTAssertEqual(check.status, 0, check.stderr)
        for set in [out, dir + "/npy"] {
            let targets = try XCTUnwrap(try json(set + "/targets.json")["targets"] as? [[String: Any]])
            XCTAssertEqual(targets.map { $0["label"] as? String }, [" Paris -  London", " Paris", "<end_of_turn>"], "command-line order, no quotes")
            XCTAssertEqual(targets[0]["coefficients"] as? [Double], [1, -1])
            XCTAssertEqual(targets[1]["id"] as? Int, (targets[0]["ids"] as? [Int])?.first)
            XCTAssertEqual(targets[2]["ids"] as? [Int], [5])
            XCTAssertEqual(try json(set + "/targets.json")["route"] as? String, "int8")
        }
        // No label keeps its quotes beyond CSV quoting: the field is `" Paris"` (CSV-quoted for its space).
        let totals = try String(contentsOfFile: out + "/totals.csv", encoding: .utf8)
        XCTAssertTrue(totals.contains(",\" Paris\","), totals)
        XCTAssertFalse(totals.contains("\"\""), totals)
    }

    /// lens --all-positions --csv: one row per position, point and token; 1 + 2L points each.
    func testLensCSVIsTidy() throws {
        try requirePython()
        let csv = dir + "/lens.csv"
        let ids = "2,10,20,30,40"
        let r = try CLIRunner.run([
            "lens", "-m", f32, "--ids", ids, "--all-positions", "--target", "5", "--target-diff", "#5", "#6", "--top", "3", "--csv", csv,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "", "the table is not printed when the CSV is written")
        let check = try python([Self.root + "/tools/check_tidy_csv.py", "lens", csv, "2"])
        XCTAssertEqual(check.status, 0, check.stderr)
        // Counted by the csv module: a token's text may hold a line break inside its quotes.
        let count = try python(["-c", "import csv, sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=''))))", csv])
        XCTAssertEqual(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines), String(5 * 5 * (2 + 3)), "positions x points x (targets + top tokens)")
        // Again without --force: the output rule refuses to replace it.
        let again = try CLIRunner.run(["lens", "-m", f32, "--ids", ids, "--all-positions", "--csv", csv])
        CLIRunner.assertCleanError(again, contains: "pass --force")
        XCTAssertEqual(try CLIRunner.run(["lens", "-m", f32, "--ids", ids, "--all-positions", "--csv", csv, "--force"]).status, 0)
    }

    /// lens --npy: arrays [positions, points, targets] with their shapes in lens.json.
    func testLensNPY() throws {
        let out = dir + "/lens"
        let r = try CLIRunner.run(["lens", "-m", f32, "--ids", "2,10,20", "--all-positions", "--target", "5", "--target-diff", "#5", "#6", "--npy", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let meta = try json(out + "/lens.json")
        XCTAssertEqual((meta["arrays"] as? [String: [Int]])?["logits.npy"], [3, 5, 2])
        XCTAssertEqual(
            meta["point_names"] as? [String], ["blocks.0.resid_pre", "blocks.0.resid_mid", "blocks.0.resid_post", "blocks.1.resid_mid", "blocks.1.resid_post"])
        let header = try Data(contentsOf: URL(fileURLWithPath: out + "/ranks.npy")).prefix(80)
        XCTAssertTrue(String(decoding: header, as: UTF8.self).contains("'shape': (3, 5, 2)"))
    }

    /// Every JSON output and table states its route; a store's is the one it records.
    func testRouteIsStated() throws {
        let ids = ["--ids", "2,10,20"]
        func route(_ args: [String]) throws -> String? { try json(try output("r.json", args + ["--json"]))["route"] as? String }
        XCTAssertEqual(try route(["decompose", "-m", int8] + ids + ["--target", "5"]), "int8")
        XCTAssertEqual(try route(["decompose", "-m", int8, "--exact-activations"] + ids + ["--target", "5"]), "exact")
        XCTAssertEqual(try route(["decompose", "-m", f32] + ids + ["--target", "5"]), "exact")
        XCTAssertEqual(try route(["lens", "-m", int8] + ids), "int8")
        XCTAssertEqual(try route(["logits", "-m", int8] + ids), "int8")
        XCTAssertEqual(try route(["paths", "-m", int8] + ids + ["--target", "5", "--layer", "0", "--neuron", "3"]), "int8")
        try output("run.out", ["run", "-m", int8] + ids + ["-o", dir + "/i.acts"])
        XCTAssertEqual(try route(["decompose", "-m", int8, "--acts", dir + "/i.acts", "--target", "5"]), "int8", "the store records its route")
        try output("run-exact.out", ["run", "-m", int8, "--exact-activations"] + ids + ["-o", dir + "/e.acts"])
        XCTAssertEqual(try route(["decompose", "-m", int8, "--acts", dir + "/e.acts", "--target", "5"]), "exact")
        let refused = try CLIRunner.run(["decompose", "-m", int8, "--acts", dir + "/i.acts", "--target", "5", "--exact-activations"])
        CLIRunner.assertCleanError(refused, contains: "was recorded on the int8 route: --exact-activations cannot apply to it")
        let d = try json(try output("v.json", ["decompose", "-m", int8] + ids + ["--target", "5", "--json"]))
        XCTAssertNotNil(d["prism_version"] as? String)
        let table = try CLIRunner.run(["decompose", "-m", int8] + ids + ["--target", "5"])
        XCTAssertTrue(table.stdout.contains("route: int8 activations"), table.stdout)
        let exact = try CLIRunner.run(["lens", "-m", int8, "--exact-activations"] + ids)
        XCTAssertTrue(exact.stdout.contains("route: exact fp32 activations"), exact.stdout)
    }

    /// Targets are listed in the order the options came in, whatever their kinds.
    func testTargetsFollowTheCommandLine() throws {
        let d = try json(
            try output(
                "o.json", ["decompose", "-m", f32, "--ids", "2,10,20", "--target-diff", "#7", "#8", "--target", "5", "--target-token", "#6", "--json"]))
        let targets = try XCTUnwrap(d["targets"] as? [[String: Any]])
        XCTAssertEqual(targets.count, 3)
        XCTAssertEqual(targets[0]["ids"] as? [Int], [7, 8])
        XCTAssertEqual(targets[1]["id"] as? Int, 5)
        XCTAssertEqual(targets[2]["id"] as? Int, 6)
    }

    /// The lens table lists each point once, says which write it follows, and gives each
    /// target's probability and rank.
    func testLensTableHasNoDuplicateRows() throws {
        let r = try CLIRunner.run(["lens", "-m", int8, "--prompt", "The capital city of France is", "--target-token", " Paris"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("blocks.") }
        XCTAssertEqual(rows.count, 1 + 2 * 4)
        XCTAssertEqual(rows.filter { $0.contains("resid_pre") }.count, 1)
        XCTAssertTrue(rows[0].contains("embed"))
        XCTAssertTrue(try XCTUnwrap(rows.last).contains("#1"), "\" Paris\" is the model's top-1 at the last point")
        XCTAssertTrue(r.stdout.contains(" p "), r.stdout)
    }
}

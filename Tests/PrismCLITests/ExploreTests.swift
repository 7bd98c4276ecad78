import Foundation
import XCTest

/// `prism explore` writes one self-contained page; a real headless browser (Debian's chromium)
/// runs its script and must report no error and build every heatmap cell with its value.
final class ExploreTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "explore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The JSON object embedded in a page.
    static func embeddedData(_ html: String) throws -> [String: Any] {
        let start = try XCTUnwrap(html.range(of: "<script type=\"application/json\" id=\"data\">"))
        let end = try XCTUnwrap(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let json = String(html[start.upperBound..<end.lowerBound])
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    /// The DOM after the page's scripts ran (see `Chromium.dumpDOM`).
    func dumpDOM(_ path: String, dir: String) throws -> String {
        try Chromium.dumpDOM(path, profile: dir, unopened: "the explorer page was written and its data checked, but not opened in a browser")
    }

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testExplorerPageRunsInABrowserAndBuildsEveryCell() throws {
        let dir = try temporaryDirectory()
        let out = dir + "/paris.html"
        let r = try CLIRunner.run([
            "explore", "-m", Self.shipped, "--prompt", "The capital of France is", "--target-token", " Paris",
            "--target-diff", " Paris", " London", "-o", out,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out) ("), r.stdout)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(html.contains("http://") && html.contains("<script src"), "no external script")
        XCTAssertFalse(html.contains("<link "), "no external stylesheet")
        let data = try Self.embeddedData(html)
        let model = try XCTUnwrap(data["model"] as? [String: Any])
        let layers = try XCTUnwrap(model["layers"] as? Int), heads = try XCTUnwrap(model["heads"] as? Int)
        let tokens = try XCTUnwrap(data["tokens"] as? [[String: Any]])
        let lens = try XCTUnwrap(data["lens"] as? [String: Any])
        let points = try XCTUnwrap(lens["points"] as? [String])
        XCTAssertEqual(points.count, layers + 1)
        XCTAssertEqual(lens["positions"] as? Int, tokens.count)
        // The decompose --json object, as decompose prints it, is inside.
        let decompose = try XCTUnwrap(data["decompose"] as? [String: Any])
        let d = try CLIRunner.run(["decompose", "-m", Self.shipped, "--prompt", "The capital of France is", "--target-token", " Paris", "--json"])
        let alone = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [String: Any])
        let first = try XCTUnwrap((decompose["targets"] as? [[String: Any]])?.first), aloneFirst = try XCTUnwrap((alone["targets"] as? [[String: Any]])?.first)
        XCTAssertEqual(first["logit"] as? Double, aloneFirst["logit"] as? Double)
        XCTAssertEqual(first["rank"] as? Int, aloneFirst["rank"] as? Int)
        XCTAssertEqual((decompose["model_top1"] as? [String: Any])?["id"] as? Int, (alone["model_top1"] as? [String: Any])?["id"] as? Int)
        XCTAssertEqual((data["route"] as? [String: Any])?["id"] as? String, "int8")

        let dom = try dumpDOM(out, dir: dir)
        // The DOM holds the script's own text too: look at the body's attributes and the error box.
        XCTAssertTrue(dom.contains("<body data-ready=\"1\">"), "the page's script did not finish:\n\(dom.prefix(3000))")
        XCTAssertTrue(dom.contains("<div id=\"error\" class=\"error\" hidden=\"\"></div>"), "the page's script reported an error:\n\(dom.prefix(4000))")
        XCTAssertEqual(Self.count("class=\"cell lens-cell\"", in: dom), tokens.count * points.count, "lens cells = positions x points")
        XCTAssertEqual(Self.count("class=\"cell head-cell\"", in: dom), layers * heads, "head grid = layers x heads")
        XCTAssertEqual(Self.count("class=\"cell pattern-cell\"", in: dom), tokens.count * (tokens.count + 1) / 2, "causal pattern cells")
        XCTAssertEqual(Self.count("class=\"bar resid-bar\"", in: dom), 1 + 2 * layers)
        XCTAssertEqual(Self.count("class=\"bar source-bar\"", in: dom), tokens.count)
        // Values are on the marks: the head cells' values are the embedded head terms, and each lens
        // cell's title names the target's logit and rank.
        let target = try XCTUnwrap((data["targets"] as? [[String: Any]])?.first)
        let headTerms = try XCTUnwrap(target["heads"] as? [[Double]])
        let cells = try NSRegularExpression(pattern: #"class="cell head-cell" data-layer="(\d+)" data-head="(\d+)" data-value="([^"]*)""#)
        let found = cells.matches(in: dom, range: NSRange(dom.startIndex..., in: dom)).map { m in
            (1...3).map { String(dom[Range(m.range(at: $0), in: dom)!]) }
        }
        XCTAssertEqual(found.count, layers * heads)
        for f in found {
            let (l, h, v) = (try XCTUnwrap(Int(f[0])), try XCTUnwrap(Int(f[1])), try XCTUnwrap(Double(f[2])))
            XCTAssertEqual(v, headTerms[l][h], accuracy: 1e-12, "head L\(l)H\(h)'s value on its cell")
        }
        XCTAssertTrue(dom.contains(": logit "), "lens titles carry the target's logit")
        XCTAssertTrue(dom.contains(", rank "), "lens titles carry the target's rank")
        XCTAssertTrue(dom.contains("id=\"top1\""))
        XCTAssertTrue(dom.contains("int8 activations"), "the route is stated")
    }

    func testExistingOutputIsRefusedWithoutForce() throws {
        let dir = try temporaryDirectory()
        let out = dir + "/x.html"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
        let args = ["explore", "-m", Self.shipped, "--ids", "2,651,37", "--target", "5", "-o", out]
        CLIRunner.assertCleanError(try CLIRunner.run(args), contains: "exists; pass --force to replace it")
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep me")
        let forced = try CLIRunner.run(args + ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        CLIRunner.assertCleanError(
            try CLIRunner.run(["explore", "-m", Self.shipped, "--ids", "2,651", "--target", "5", "-o", dir]), contains: "is a directory")
    }

    /// The page made from ids only (no text) and a store-less run at an earlier position.
    func testEarlierPositionCoversOnlyItsPrefix() throws {
        let dir = try temporaryDirectory()
        let out = dir + "/p.html"
        let r = try CLIRunner.run(["explore", "-m", Self.shipped, "--ids", "2,651,37,576,81", "--target", "5", "--position", "2", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Self.embeddedData(try String(contentsOfFile: out, encoding: .utf8))
        XCTAssertEqual(data["position"] as? Int, 2)
        XCTAssertEqual((data["tokens"] as? [Any])?.count, 3)
        XCTAssertEqual((data["patterns"] as? [String: Any])?["tokens"] as? Int, 3)
    }

    /// From a store written by `prism run` (a longer prompt than the decomposed prefix): the
    /// patterns are cut to the prefix and the page says the top-1 is not known (no logits kept).
    func testFromAStore() throws {
        let dir = try temporaryDirectory()
        let acts = dir + "/f.acts", out = dir + "/s.html"
        let run = try CLIRunner.run(["run", "-m", Self.shipped, "--prompt", "The capital of France is Paris", "-o", acts])
        XCTAssertEqual(run.status, 0, run.stderr)
        let r = try CLIRunner.run(["explore", "-m", Self.shipped, "--acts", acts, "--position=-2", "--target-token", " Paris", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Self.embeddedData(try String(contentsOfFile: out, encoding: .utf8))
        let tokens = try XCTUnwrap(data["tokens"] as? [Any])
        XCTAssertEqual((data["patterns"] as? [String: Any])?["tokens"] as? Int, tokens.count)
        XCTAssertEqual((data["lens"] as? [String: Any])?["positions"] as? Int, tokens.count)
        XCTAssertTrue(data["model_top1"] is NSNull)
    }
}

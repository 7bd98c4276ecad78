import Foundation
import XCTest

/// One way to write a token in every JSON output: its id and its decoded text (" Paris", "\n"),
/// never the SentencePiece piece ("▁Paris", "<0x0A>") in one output and a quoted label in another.
final class TokenTextTests: XCTestCase {
    func testDecomposeLensAndLogitsWriteTheSameText() throws {
        let model = CLIRunner.fixtures + "/tiny-f32"
        let prompt = "The capital of France is"
        func json(_ args: [String]) throws -> [String: Any] {
            let r = try CLIRunner.run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        let d = try json(["decompose", "-m", model, "--prompt", prompt, "--target", "5", "--json"])
        let l = try json(["lens", "-m", model, "--prompt", prompt, "--json", "--top", "3"])
        let g = try json(["logits", "-m", model, "--prompt", prompt, "--json", "--top", "3"])
        let tokens = try XCTUnwrap(d["tokens"] as? [String])
        XCTAssertFalse(tokens.contains { $0.contains("\u{2581}") }, "no SentencePiece pieces: \(tokens)")
        let top1 = try XCTUnwrap(d["model_top1"] as? [String: Any])
        let lensTop = try XCTUnwrap(((l["points"] as? [[String: Any]])?.last?["top"] as? [[String: Any]])?.first)
        let logitsTop = try XCTUnwrap((g["top"] as? [[String: Any]])?.first)
        XCTAssertEqual(top1["id"] as? Int, logitsTop["id"] as? Int)
        XCTAssertEqual(top1["token"] as? String, logitsTop["token"] as? String)
        XCTAssertEqual(lensTop["token"] as? String, logitsTop["token"] as? String)
        XCTAssertFalse((logitsTop["token"] as? String ?? "\u{2581}").contains("\u{2581}"))
    }
}

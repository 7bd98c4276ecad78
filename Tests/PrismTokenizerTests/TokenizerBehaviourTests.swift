import Foundation
import PrismTokenizer
import XCTest

/// Behaviour outside the Gemma fixtures: options HF has that Gemma's file leaves at their
/// defaults, and use from several threads.
final class TokenizerBehaviourTests: XCTestCase {
    /// "abc" is in the vocabulary but no merge makes it. Expected values are what HF
    /// `tokenizers` 0.23.3 gives for the same JSON.
    func testIgnoreMergesAndNoDecoder() throws {
        func make(_ ignoreMerges: Bool) throws -> GemmaTokenizer {
            let json = """
                {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
                 "pre_tokenizer": null, "post_processor": null, "decoder": null,
                 "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                           "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                           "ignore_merges": \(ignoreMerges), "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4},
                           "merges": [["a", "b"]]}}
                """
            return try GemmaTokenizer(jsonBytes: Array(json.utf8))
        }
        let plain = try make(false), ignoring = try make(true)
        XCTAssertEqual(plain.encode("abc"), [3, 2])
        XCTAssertEqual(ignoring.encode("abc"), [4])
        XCTAssertEqual(ignoring.encode("abcabc"), [3, 2, 3, 2])
        XCTAssertEqual(plain.encode("abxc"), [3, 2], "an unknown scalar without <unk> or byte fallback is dropped")
        XCTAssertEqual(try plain.decode([3, 2, 4]), "ab c abc", "without a decoder HF joins with spaces")
        XCTAssertNil(plain.bosId)
        XCTAssertEqual(plain.vocabularySize, 5)
    }

    /// The tokenizer is immutable after loading; encoding from many threads gives the same ids.
    func testConcurrentEncoding() throws {
        let tok = try GemmaTokenizer(path: Fixtures.path("tokenizer.json"))
        let cases = try Fixtures.encodeCases("main")
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: cases.count * 4)
        defer { results.deallocate() }
        results.initialize(repeating: false)
        DispatchQueue.concurrentPerform(iterations: cases.count * 4) { i in
            let c = cases[i % cases.count]
            results[i] = tok.encode(c.text) == c.idsWithBos
        }
        XCTAssertTrue(results.allSatisfy { $0 })
    }
}

import Foundation
import PrismSupport
import XCTest

final class JSONNumbersTests: XCTestCase {
    func testSpellings() {
        XCTAssertEqual(JSONNumbers.spelling(.nan), "NaN")
        XCTAssertEqual(JSONNumbers.spelling(.infinity), "Infinity")
        XCTAssertEqual(JSONNumbers.spelling(-.infinity), "-Infinity")
        XCTAssertNil(JSONNumbers.spelling(0))
        XCTAssertNil(JSONNumbers.spelling(-.greatestFiniteMagnitude))
        XCTAssertNil(JSONNumbers.spelling(.leastNonzeroMagnitude))
    }

    /// A tree with non-finite values anywhere becomes valid JSON whose numbers read back as
    /// the strings Python's float() understands; finite values are kept as numbers.
    func testEncodableTreeIsValidJSON() throws {
        let tree: [String: Any] = [
            "logit": Double.nan,
            "scale": Float.infinity,
            "terms": [1.5, -Double.infinity, 2],
            "floats": [Float(0.25), Float.nan],
            "ids": [1, 2, 3],
            "nested": [["v": -Double.infinity, "name": "x"], [Double.nan]] as [Any],
            "finite": [0.5, 1.5],
        ]
        let data = try JSONSerialization.data(withJSONObject: JSONNumbers.encodable(tree), options: [.sortedKeys])
        let back = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(back["logit"] as? String, "NaN")
        XCTAssertEqual(back["scale"] as? String, "Infinity")
        let terms = try XCTUnwrap(back["terms"] as? [Any])
        XCTAssertEqual(terms[0] as? Double, 1.5)
        XCTAssertEqual(terms[1] as? String, "-Infinity")
        XCTAssertEqual(terms[2] as? Double, 2)
        let floats = try XCTUnwrap(back["floats"] as? [Any])
        XCTAssertEqual(floats[0] as? Double, 0.25)
        XCTAssertEqual(floats[1] as? String, "NaN")
        XCTAssertEqual(back["ids"] as? [Int], [1, 2, 3])
        let nested = try XCTUnwrap(back["nested"] as? [Any])
        XCTAssertEqual((nested[0] as? [String: Any])?["v"] as? String, "-Infinity")
        XCTAssertEqual((nested[0] as? [String: Any])?["name"] as? String, "x")
        XCTAssertEqual((nested[1] as? [Any])?.first as? String, "NaN")
        XCTAssertEqual(back["finite"] as? [Double], [0.5, 1.5])
    }

    /// An array of finite numbers is handed back as it is (not rebuilt element by element).
    func testFiniteArraysAreUnchanged() {
        let values = (0..<1000).map { Double($0) / 7 }
        XCTAssertEqual(JSONNumbers.encodable(values) as? [Double], values)
        XCTAssertEqual(JSONNumbers.encodable(Float(3)) as? Float, 3)
        XCTAssertEqual(JSONNumbers.encodable("text") as? String, "text")
    }
}

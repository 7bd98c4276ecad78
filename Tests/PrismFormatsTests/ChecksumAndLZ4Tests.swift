import PrismFormats
import XCTest

final class ChecksumAndLZ4Tests: XCTestCase {
    /// Reference digests from the Python `xxhash` package (xxhash.xxh64(data).hexdigest()).
    func testXXH64MatchesReference() {
        let cases: [([UInt8], String)] = [
            ([], "ef46db3751d8e999"),
            (Array("a".utf8), "d24ec4f1a98c6e5b"),
            (Array("abc".utf8), "44bc2cf5ad770999"),
            (Array(repeating: Array(0...255), count: 3).flatMap { $0 }, "8e03c838c596036f"),
            (Array(repeating: UInt8(ascii: "x"), count: 31), "60dd0d01083b99f0"),
            (Array(repeating: UInt8(ascii: "y"), count: 32), "64da1f1d3495ce66"),
            (Array(repeating: UInt8(ascii: "z"), count: 33), "c5241253c64e0268"),
        ]
        for (data, expected) in cases {
            XCTAssertEqual(XXH64.hex(XXH64.hash(data)), expected, "\(data.count) bytes")
        }
    }

    func testStreamingEqualsOneShot() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for split in [0, 1, 7, 31, 32, 33, 500, 999] {
            var h = XXH64()
            h.update(Array(data[..<split]))
            h.update(Array(data[split...]))
            XCTAssertEqual(h.finalize(), XXH64.hash(data), "split \(split)")
        }
    }

    func testLZ4RoundTripAndCorruption() throws {
        let text = Array(String(repeating: "the residual stream is a sum of its writes; ", count: 200).utf8)
        let packed = LZ4.compress(text)
        XCTAssertLessThan(packed.count, text.count / 4)
        XCTAssertEqual(try LZ4.decompress(packed, originalSize: text.count), text)
        var broken = packed
        broken[broken.count / 2] ^= 0xff
        broken.removeLast(broken.count / 3)
        XCTAssertThrowsError(try LZ4.decompress(broken, originalSize: text.count))
    }
}

import PrismFormats
import XCTest

/// The streaming hash is a value: libxxhash's state is held inline, so a copy taken mid-stream
/// continues on its own, and finalizing does not end the stream.
final class XXH64CopyTests: XCTestCase {
    func testCopiesContinueIndependently() {
        let a = Array("the residual stream ".utf8), b = Array("is a sum".utf8), c = Array(" of its writes".utf8)
        var h = XXH64()
        h.update(a)
        var copy = h
        h.update(b)
        copy.update(c)
        XCTAssertEqual(h.finalize(), XXH64.hash(a + b))
        XCTAssertEqual(copy.finalize(), XXH64.hash(a + c))
        h.update(c)
        XCTAssertEqual(h.finalize(), XXH64.hash(a + b + c), "finalize leaves the stream open")
    }

    func testSeedChangesTheHash() {
        let data = Array(0..<100).map { UInt8($0) }
        var h = XXH64(seed: 7)
        h.update(data)
        XCTAssertEqual(h.finalize(), XXH64.hash(data, seed: 7))
        XCTAssertNotEqual(XXH64.hash(data, seed: 7), XXH64.hash(data))
    }
}

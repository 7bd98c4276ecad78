import PrismSupport
import XCTest

final class ByteSizeTests: XCTestCase {
    func testUnits() throws {
        XCTAssertEqual(try ByteSize.parse("1073741824"), 1 << 30)
        XCTAssertEqual(try ByteSize.parse("512MiB"), 512 << 20)
        XCTAssertEqual(try ByteSize.parse("1GiB"), 1 << 30)
        XCTAssertEqual(try ByteSize.parse("4KiB"), 4096)
        XCTAssertEqual(try ByteSize.parse("2GB"), 2_000_000_000)
        XCTAssertEqual(try ByteSize.parse("1.5G"), 3 << 29)
        XCTAssertEqual(try ByteSize.parse(" 10 mib "), 10 << 20)
    }

    func testMalformed() {
        for bad in ["", "abc", "12XB", "-5MiB", "1e99GiB", "MiB"] {
            XCTAssertThrowsError(try ByteSize.parse(bad), bad)
        }
    }
}

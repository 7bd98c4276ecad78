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

final class ByteSizeFormatTests: XCTestCase {
    func testDecimalAndBinaryUnitsDiffer() throws {
        XCTAssertEqual(try ByteSize.parse("1KB"), 1000)
        XCTAssertEqual(try ByteSize.parse("1k"), 1024)
        XCTAssertEqual(try ByteSize.parse("3TB"), 3_000_000_000_000)
        XCTAssertEqual(try ByteSize.parse("3TiB"), 3 << 40)
        XCTAssertEqual(try ByteSize.parse("7b"), 7)
        XCTAssertEqual(try ByteSize.parse("1.5KiB"), 1536)
        // A fraction of a byte is a forgotten unit (`--max-memory 1.5` meant 1.5 GiB, not 2 bytes).
        XCTAssertThrowsError(try ByteSize.parse("0.4"))
        XCTAssertThrowsError(try ByteSize.parse("2.6B"))
        XCTAssertEqual(try ByteSize.parse("2.0"), 2)
    }

    func testErrorsNameTheInput() {
        for (bad, needle) in [
            ("12XB", "unknown unit 'xb'"), ("", "empty size"), ("   ", "empty size"), ("1..5G", "malformed size '1..5G'"), ("9000PB", "unknown unit"),
            ("9000000TiB", "too large"),
        ] {
            XCTAssertThrowsError(try ByteSize.parse(bad), bad) { error in
                XCTAssertTrue((error as? PrismError)?.message.contains(needle) ?? false, "\(bad): \(error)")
            }
        }
    }

    func testFormatPicksTheLargestUnitBelowTheValue() {
        XCTAssertEqual(ByteSize.format(0), "0 B")
        XCTAssertEqual(ByteSize.format(1023), "1023 B")
        XCTAssertEqual(ByteSize.format(1024), "1.00 KiB")
        XCTAssertEqual(ByteSize.format(1536), "1.50 KiB")
        XCTAssertEqual(ByteSize.format(512 << 20), "512.00 MiB")
        XCTAssertEqual(ByteSize.format(3 << 29), "1.50 GiB")
        XCTAssertEqual(ByteSize.format(5 << 40), "5120.00 GiB")
        XCTAssertEqual(String(format2: 0.005), "0.01")
        XCTAssertEqual(String(format2: 2.1), "2.10")
    }

    /// What `format` prints parses back to within its rounding (two decimals of the unit).
    func testFormatParsesBack() throws {
        var x = 1
        while x < 1 << 50 {
            let text = ByteSize.format(x).replacingOccurrences(of: " ", with: "")
            let back = try ByteSize.parse(text)
            XCTAssertLessThanOrEqual(abs(Double(back - x)), max(0.5, Double(x) * 0.005), "\(x) -> \(text) -> \(back)")
            x = x * 3 + 7
        }
    }
}

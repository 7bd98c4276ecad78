import Foundation
import PrismSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `MappedFile.warmPageCache` and `copy`: what they leave in the page cache and in the
/// process's resident memory (their speed is measured by `tools/stream_floor.c`, not here).
final class PageCacheTests: TemporaryDirectoryTestCase {
    /// Fraction of the file's pages in the page cache, by `mincore` over a fresh mapping.
    func cachedFraction(_ path: String) throws -> Double {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw XCTSkip("cannot open \(path)") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { throw XCTSkip("cannot map") }
        defer { munmap(p, size) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        XCTAssertEqual(mincore(p, size, &vector), 0)
        return Double(vector.reduce(0) { $0 + Int($1 & 1) }) / Double(vector.count)
    }

    /// Writes `bytes` MiB of data, syncs it and asks the kernel to drop it from the page cache.
    func uncachedFile(mebibytes: Int) throws -> String {
        let path = dir + "/weights"
        let block = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131) })
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        for _ in 0..<mebibytes { _ = block.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        fsync(fd)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        close(fd)
        let cached = try cachedFraction(path)
        if cached > 0.5 { throw XCTSkip("this file system keeps the file cached after POSIX_FADV_DONTNEED (\(cached))") }
        return path
    }

    func testWarmReadsAnUncachedFileIntoTheCacheWithoutKeepingItMapped() throws {
        let path = try uncachedFile(mebibytes: 48)
        let f = try MappedFile(path: path)
        let before = ResourceUsage.currentRSS
        XCTAssertTrue(f.warmPageCache(), "an uncached 48 MiB file is read")
        XCTAssertGreaterThan(try cachedFraction(path), 0.9, "the whole file is in the page cache afterwards")
        // Read 8 MiB at a time and released: the process keeps none of it mapped.
        XCTAssertLessThan(ResourceUsage.currentRSS - before, 12 << 20)
        XCTAssertFalse(f.warmPageCache(), "a cached file is left alone")
        XCTAssertEqual(f.bytes((47 << 20)..<((47 << 20) + 4)).map { $0 }, [0, 131, 6, 137])
    }

    func testCopyReadsTheBytesWithOrWithoutReadahead() throws {
        let path = try uncachedFile(mebibytes: 16)
        let f = try MappedFile(path: path)
        let range = ((5 << 20) + 3)..<((5 << 20) + 4099)
        let expected = Array(f.bytes(range))
        XCTAssertEqual(try f.copy(range, readahead: false), expected)
        XCTAssertEqual(try f.copy(range, readahead: true), expected)
        XCTAssertEqual(expected.prefix(3), [UInt8(truncatingIfNeeded: 3 &* 131), UInt8(truncatingIfNeeded: 4 &* 131), UInt8(truncatingIfNeeded: 5 &* 131)])
    }

    func testSmallFilesAreNotWarmed() throws {
        let path = dir + "/small"
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: path))
        XCTAssertFalse(try MappedFile(path: path).warmPageCache())
    }
}

final class PathNamesTests: XCTestCase {
    func testDirectoryAndLastComponentAsDirnameAndBasename() {
        let cases: [(String, String, String)] = [
            ("y", ".", "y"), ("./y", ".", "y"), ("a/b", "a", "b"), ("a/b/", "a", "b"), ("a//b", "a", "b"),
            ("/y", "/", "y"), ("/", "/", "/"), ("//", "/", "/"), ("/a/b/c.npy", "/a/b", "c.npy"), ("", ".", ""), ("é", ".", "é"),
        ]
        for (path, dir, last) in cases {
            XCTAssertEqual(PathNames.directory(of: path), dir, path)
            XCTAssertEqual(PathNames.lastComponent(of: path), last, path)
        }
    }
}

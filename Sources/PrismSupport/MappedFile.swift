import CPrismFiles
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Something whose mapped pages can be given back to the kernel once used: weights of a layer
/// already done are re-read from the page cache if needed again, so resident memory stays
/// under a budget even when the model file is larger than the budget.
public protocol PageReleasing: AnyObject {
    func release(_ buffer: UnsafeRawBufferPointer)
    /// Maps the pages under `buffer` now, in one call, before they are read.
    func populate(_ buffer: UnsafeRawBufferPointer)
    /// Reads the whole file into the page cache in one sequential pass if it is not there yet.
    @discardableResult func warmPageCache() -> Bool
}

/// A read-only memory mapping of a whole file. Tensors are zero-copy views into it,
/// so the mapping must outlive them: views keep a strong reference to their file.
public final class MappedFile: PageReleasing, @unchecked Sendable {
    public let path: String
    public let size: Int
    public let base: UnsafeRawPointer?
    private let fd: Int32
    /// The file's identity when mapped: a change of size or modification time later means it
    /// was rewritten in place under us (see `checkUnchanged`).
    private let opened: (size: Int, mtime: timespec)

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PrismError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw PrismError("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw PrismError("\(path) is a directory, expected a file")
        }
        self.fd = fd
        self.size = Int(st.st_size)
        opened = (Int(st.st_size), st.st_mtim)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            close(fd)
            throw PrismError("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        // A read of a page the file no longer has (truncated under us) raises SIGBUS: say so in
        // one line instead of crashing with a backtrace.
        prism_watch_mapping(p, UInt(size), "error: \(path) changed while running (truncated or rewritten in place); replace files by rename, never in place\n")
        Self.live.add(self)
    }

    /// Every file mapped now, so a command can check them all before it reports (`checkAllUnchanged`).
    private static let live = Registry()

    final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var files: [ObjectIdentifier: Weak] = [:]
        struct Weak { weak var file: MappedFile? }
        func add(_ f: MappedFile) { lock.lock(); files[ObjectIdentifier(f)] = Weak(file: f); lock.unlock() }
        func remove(_ f: MappedFile) { lock.lock(); files[ObjectIdentifier(f)] = nil; lock.unlock() }
        var all: [MappedFile] { lock.lock(); defer { lock.unlock() }; return files.values.compactMap(\.file) }
    }

    /// `checkUnchanged` on every file still mapped: called by each command before it exits
    /// successfully, so results computed from a file rewritten under it are never reported as good.
    /// - Throws: `PrismError` "PATH changed while running".
    public static func checkAllUnchanged() throws {
        for f in live.all { try f.checkUnchanged() }
    }

    deinit {
        Self.live.remove(self)
        if let base {
            prism_unwatch_mapping(base)
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        }
        close(fd)
    }

    /// Refuses to go on when the file was rewritten in place since it was mapped (same inode,
    /// new size or modification time): results computed from it may mix old and new bytes.
    /// A file replaced by rename is no change: the mapping keeps the old file.
    /// - Throws: `PrismError` "PATH changed while running".
    public func checkUnchanged() throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PrismError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        func same(_ a: timespec, _ b: timespec) -> Bool { a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec }
        // Not the change time: unlinking the old file when a new one is renamed over it changes that.
        guard Int(st.st_size) == opened.size, same(st.st_mtim, opened.mtime) else {
            throw PrismError("\(path) changed while running (rewritten in place); results are discarded: replace files by rename, never in place")
        }
    }

    /// The bytes in `range`, which the caller has bounds-checked against `size`.
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "range outside mapping")
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    public var all: UnsafeRawBufferPointer { bytes(0..<size) }

    /// Tells the kernel the pages of `range` are no longer needed, so resident memory
    /// can shrink after a layer is done (they are re-read from the page cache on demand).
    public func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound / page) * page
        let end = min(size, range.upperBound)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    /// Releases the pages under `buffer`, a view into this mapping.
    public func release(_ buffer: UnsafeRawBufferPointer) {
        guard let base, let p = buffer.baseAddress, p >= base, p + buffer.count <= base + size else { return }
        release((p - base)..<(p - base + buffer.count))
    }

    /// Reads the file into the page cache front to back, 8 MiB at a time (mapped, then
    /// released: resident memory grows by 8 MiB at most), when less than 90% of it is there and
    /// the machine has room to keep it. Why: read in one sequential pass, the kernel holds a
    /// file in large folios; read by a forward pass (two threads, four streams a matrix) it
    /// holds it in small ones, and every later run that maps and releases the weights (a
    /// budget) then pays per 4 KiB page: on gemma-2b-shaped int8, bringing back the 1.7 GB a
    /// budgeted decode step streams took ~70 ms after a sequential read and ~190 ms after a
    /// forward pass had read the file (`tools/stream_floor.c`). Costs nothing when cached.
    /// - Returns: whether it read anything.
    @discardableResult
    public func warmPageCache() -> Bool {
        guard let base, size >= 16 << 20 else { return false }
        let start = UnsafeMutableRawPointer(mutating: base)
        // 64 windows of 64 pages spread over the file tell whether it is cached (the whole
        // file's `mincore` took 20-40 ms on 2.7 GB).
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let windows = 64, window = 64 * page
        var vector = [UInt8](repeating: 0, count: 64)
        var resident = 0
        for w in 0..<windows {
            let offset = (size - window) / (windows - 1) * w / page * page
            guard mincore(start + offset, window, &vector) == 0 else { return false }
            resident += vector.reduce(0) { $0 + Int($1 & 1) }
        }
        guard resident < windows * 64 * 9 / 10, let available = ResourceUsage.memoryAvailable, available > size + size / 4 else { return false }
        let chunk = 8 << 20
        var offset = 0
        while offset < size {
            let n = min(chunk, size - offset)
            _ = madvise(start + offset, n, Self.populateRead)
            _ = madvise(start + offset, n, Int32(MADV_DONTNEED))
            offset += n
        }
        return true
    }

    /// Maps the pages under `buffer` (a view into this mapping) in one `MADV_POPULATE_READ`
    /// (Linux 5.14; a no-op before): a layer streamed under a budget is mapped whole before its
    /// products run instead of fault by fault inside them. On gemma-2b-shaped weights held in
    /// the page cache as huge folios, bringing 1.7 GB back this way took ~100 ms where page
    /// faults took ~170 ms and reading it already mapped ~80 ms (`tools/stream_floor.c`).
    public func populate(_ buffer: UnsafeRawBufferPointer) {
        guard let base, let p = buffer.baseAddress, p >= base, p + buffer.count <= base + size, buffer.count > 0 else { return }
        if ProcessInfo.processInfo.environment["PRISM_EXPERIMENT_NO_POPULATE"] != nil { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = ((p - base) / page) * page
        let end = min(size, p - base + buffer.count)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Self.populateRead)
    }

    /// `MADV_POPULATE_READ` (Linux 5.14), which older C headers lack.
    private static let populateRead: Int32 = 22

    /// Hints that `range` will be read soon and sequentially.
    public func willNeed(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound / page) * page
        let end = min(size, range.upperBound)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_WILLNEED))
    }
}

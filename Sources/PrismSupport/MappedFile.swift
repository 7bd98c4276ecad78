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
    /// Releases everything from the lowest to the highest of `buffers` in one call, widened to
    /// whole huge pages (see `MappedFile.release(spanning:)`).
    func release(spanning buffers: [UnsafeRawBufferPointer])
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
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer (forever); it is refused below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
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
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw PrismError("\(path) is not a regular file (a pipe or a device), expected a file")
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

    /// Copies `range` out of the file with `pread`, not through the mapping. A page fault on a
    /// file not yet cached reads the disk's whole readahead window around it (8 MiB here) in
    /// small folios; the small tensors read while a model opens (norm gains between the layers'
    /// matrices) had left ~300 MB of gemma-2b-shaped weights cached that way. `readahead: false`
    /// reads only the pages of `range` (`POSIX_FADV_RANDOM` for the call); true, for one long
    /// sequential range (a tokenizer), lets the kernel read ahead as usual.
    /// - Throws: `PrismError` when the file is shorter than `range` or cannot be read.
    public func copy(_ range: Range<Int>, readahead: Bool) throws -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "range outside file")
        if !readahead { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) }
        defer { if !readahead { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL) } }
        var out = [UInt8](repeating: 0, count: range.count)
        var done = 0
        try out.withUnsafeMutableBytes { buffer in
            while done < range.count, let p = buffer.baseAddress {
                let n = pread(fd, p + done, range.count - done, off_t(range.lowerBound + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw PrismError("cannot read \(path): \(n < 0 ? String(cString: strerror(errno)) : "file shorter than expected")")
                }
                done += n
            }
        }
        return out
    }

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

    /// The unit a streamed layer is released in: a PMD's 2 MiB with 4 KiB pages, else one page.
    static let releaseUnit: Int = {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return page == 4096 ? 2 << 20 : page
    }()

    /// Releases the span from the lowest to the highest of `buffers` (views into this mapping:
    /// a layer's matrices), widened outward to whole 2 MiB units of the address space. Why: a
    /// file read sequentially sits in the page cache in 2 MiB folios that a fault maps whole (one
    /// PMD entry), and `MADV_DONTNEED` over part of such a mapping splits it, leaving the rest of
    /// those 2 MiB to be faulted back in 4 KiB pages. Releasing tensor by tensor did that at each
    /// of a layer's 14 part boundaries (`perf` showed 4 KiB fault-around work in every budgeted
    /// step). Widening may release the head or tail of a neighbouring tensor: it is read back
    /// from the page cache when used.
    public func release(spanning buffers: [UnsafeRawBufferPointer]) {
        guard let base else { return }
        var low = Int.max, high = 0
        for b in buffers {
            guard let p = b.baseAddress, p >= base, p + b.count <= base + size, b.count > 0 else { continue }
            low = min(low, p - base)
            high = max(high, p - base + b.count)
        }
        guard low < high else { return }
        release(Self.widened(low..<high, address: Int(bitPattern: base), size: size, unit: Self.releaseUnit))
    }

    /// `range` (offsets into a mapping of `size` bytes at `address`) widened outward to whole
    /// `unit`s of the address space, clipped to the mapping.
    static func widened(_ range: Range<Int>, address: Int, size: Int, unit: Int) -> Range<Int> {
        let start = max(0, (address + range.lowerBound) / unit * unit - address)
        let end = min(size, ((address + range.upperBound + unit - 1) / unit) * unit - address)
        return start..<max(start, end)
    }

    /// Reads the file into the page cache front to back with `pread`, 8 MiB at a time into one
    /// buffer (nothing stays mapped), when less than 90% of it is there and the machine has room
    /// to keep it. Why: how a file enters the page cache decides its folio sizes, and those
    /// decide what every later run pays to map it. Read in one sequential `read` pass, the kernel
    /// (6.18, ext4) holds the file in large folios (2 MiB, mapped whole); faulted in by a forward
    /// pass (two threads, four streams a matrix, 8 MiB readahead windows) or through
    /// `MADV_POPULATE_READ`, in small ones. A run under a budget maps and releases most of the
    /// model every decode step: on gemma-2b-shaped int8 under 1 GiB a step took ~95 ms with the
    /// file read sequentially and ~280-350 ms with it faulted in (`tools/stream_floor.c`
    /// shows which state a file is in). Costs one `mincore` sample when the file is cached.
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
        // What little is cached (the header, pages read while the model opened) goes first: a
        // sequential read that meets cached islands restarts its readahead small after each,
        // and left the file in smaller folios (a budgeted decode step 10-40% slower).
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: page)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < size {
            let n = pread(fd, buffer, min(chunk, size - offset), off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            offset += n
        }
        return true
    }

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

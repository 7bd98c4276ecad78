import CPrismFiles
import Foundation

/// The one rule every command follows for what it writes, so that nothing a user already has
/// is lost (see README, "What prism writes"):
/// - an output file never names a directory or anything but a regular file, nor any of the
///   command's inputs (compared by device and inode, so links and `./x` spellings count);
/// - an existing output is replaced only with `--force`, and then by `rename` over it: never
///   deleted first, never removed recursively;
/// - output is written to a temporary created exclusively in the output's directory (an unnamed
///   `O_TMPFILE` where the file system has it, else `mkstemp`), so a planted link is never
///   followed and a killed run leaves no file that looks finished;
/// - a set of files (`--npy DIR`, `--csv DIR`, `study -o DIR`) is written into a fresh directory
///   beside it and swapped in whole, so the old set survives any failure; a directory is only
///   replaced if it holds nothing but a set prism wrote (its manifest lists every file).
public enum Outputs {
    /// The manifest of a set of files: which files prism wrote there, so a later `--force`
    /// removes those and nothing else.
    public static let manifestName = ".prism-output"

    /// Refuses, before any work, an output file that would break the rule above.
    /// - Parameters:
    ///   - path: the output file.
    ///   - force: whether an existing file may be replaced.
    ///   - inputs: every file or directory the command reads.
    ///   - resumable: the caller is the batch job that appends to `path` (its own output,
    ///     journalled); any other command refuses to replace a batch output.
    /// - Throws: `PrismError` naming the path and what is wrong.
    public static func checkFile(_ path: String, force: Bool, inputs: [String], resumable: Bool = false) throws {
        guard !path.isEmpty else { throw PrismError("the output path is empty") }
        try checkNotAnInput(path, inputs: inputs)
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                throw PrismError("\(path) is a directory; give a file name for the output")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw PrismError("\(path) exists and is not a regular file; refusing to replace it") }
            if let output = batchOutput(owning: path) {
                throw PrismError("\(path) belongs to the batch output \(output) (it resumes the job); prism never replaces it, even with --force")
            }
            if !resumable, FileManager.default.fileExists(atPath: path + ".journal") {
                throw PrismError("\(path) is a batch job's output (it has a journal); prism never replaces it, even with --force")
            }
            guard force else { throw PrismError("\(path) exists; pass --force to replace it") }
        } else if lstat(path, &st) == 0 {
            // A dangling link: replacing it would be fine, but writing through it would not.
            guard force else { throw PrismError("\(path) exists (a link); pass --force to replace it") }
        }
        let dir = directory(of: path)
        var ds = stat()
        guard stat(dir, &ds) == 0, (ds.st_mode & S_IFMT) == S_IFDIR else { throw PrismError("cannot write \(path): directory \(dir) does not exist") }
    }

    /// Refuses, before any work, an output directory for a set of files that would break the rule.
    /// - Throws: `PrismError` when `dir` is a file, one of the inputs, or holds files prism did
    ///   not write, or holds a set and `force` is false.
    public static func checkSet(_ dir: String, force: Bool, inputs: [String]) throws {
        guard !dir.isEmpty else { throw PrismError("the output directory is empty") }
        try checkNotAnInput(dir, inputs: inputs)
        for input in inputs where isInside(input, dir) {
            throw PrismError("\(dir) holds this command's input \(input); choose another output directory")
        }
        var st = stat()
        guard stat(dir, &st) == 0 else {
            // A new set: its parent must exist, as for a single file (checked before any work).
            let parent = directory(of: dir)
            var ps = stat()
            guard stat(parent, &ps) == 0 else { throw PrismError("cannot write \(dir): directory \(parent) does not exist") }
            guard (ps.st_mode & S_IFMT) == S_IFDIR else { throw PrismError("cannot write \(dir): \(parent) is not a directory") }
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw PrismError("\(dir) exists and is not a directory") }
        let entries = try listDirectory(dir)
        if entries.isEmpty { return }
        guard force else { throw PrismError("\(dir) exists and is not empty; pass --force to replace the files prism wrote there") }
        let owned = try manifest(of: dir)
        if let foreign = entries.first(where: { $0 != manifestName && !owned.contains($0) }) {
            throw PrismError("\(dir) holds \(foreign), which prism did not write there; choose a new or empty directory")
        }
    }

    /// The directory part of `path` ("." for a bare name).
    public static func directory(of path: String) -> String { PathNames.directory(of: path) }

    /// A batch output's journal or lock (`OUT.journal`, `OUT.lock` beside an `OUT.journal`):
    /// the output it belongs to, else nil.
    static func batchOutput(owning path: String) -> String? {
        for suffix in [".journal", ".lock"] where path.hasSuffix(suffix) {
            let output = String(path.dropLast(suffix.count))
            if !output.isEmpty, FileManager.default.fileExists(atPath: output + ".journal") { return output }
        }
        return nil
    }

    static func checkNotAnInput(_ path: String, inputs: [String]) throws {
        var out = stat()
        guard stat(path, &out) == 0 else {
            // Not there yet: the same name as an input not there yet either (a batch's output,
            // written later in the same command) is the same file.
            let name = resolved(path)
            for input in inputs where resolved(input) == name {
                throw PrismError("\(path) is this command's input \(input); choose another output")
            }
            return
        }
        for input in inputs {
            var st = stat()
            if stat(input, &st) == 0, st.st_dev == out.st_dev, st.st_ino == out.st_ino {
                throw PrismError("\(path) is this command's input \(input); choose another output")
            }
        }
    }

    /// `path` with its links resolved and `.`/`..` removed, as far as it exists.
    static func resolved(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path }

    /// Whether `path` lies inside directory `dir` (both resolved).
    static func isInside(_ path: String, _ dir: String) -> Bool {
        let p = resolved(path), d = resolved(dir)
        return p.hasPrefix(d.hasSuffix("/") ? d : d + "/")
    }

    static func listDirectory(_ dir: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw PrismError("cannot list \(dir): \(describeIOError(error))")
        }
    }

    /// The files a set's manifest lists ([] when there is none).
    static func manifest(of dir: String) throws -> Set<String> {
        let path = dir + "/" + manifestName
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let notManifest = PrismError("\(path) is not a prism output manifest; choose a new or empty directory")
        guard let data = FileManager.default.contents(atPath: path) else { throw PrismError("cannot read \(path)") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch { throw notManifest }
        guard let obj = parsed as? [String: Any], let files = obj["files"] as? [String] else { throw notManifest }
        return Set(files.filter { !$0.contains("/") && $0 != "." && $0 != ".." })
    }

    /// Makes `path`'s data durable in its directory.
    static func syncDirectory(of path: String) {
        let fd = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }
}

/// A file being written that appears under its name only when `commit()` succeeds: see
/// `Outputs` for the rule. Until then the data live in an unnamed file (or an exclusively
/// created `NAME.XXXXXX.partial`) in the output's directory, which `deinit` removes.
public final class AtomicOutput {
    public let path: String
    public let force: Bool
    /// The descriptor to write through (positioned writes allowed).
    public let fd: Int32
    /// The named temporary, where the file system has no unnamed files.
    private let temporary: String?
    private var done = false
    /// Drop the file's pages from the page cache once it is synced (a converted model): the
    /// next reader then reads it from disk into huge folios (see `MappedFile`), which a run
    /// that streams its weights under a budget maps 2 MiB at a time; the pages this writer
    /// left are mostly 4 KiB ones, which made such a run re-fault the model page by page.
    public var dropsCacheOnCommit = false

    /// - Throws: `PrismError` when the output's directory cannot hold a new file.
    public init(path: String, force: Bool) throws {
        self.path = path
        self.force = force
        let dir = Outputs.directory(of: path)
        let anon = prism_open_tmpfile(dir, 0o644)
        if anon >= 0 {
            fd = anon
            temporary = nil
            return
        }
        // File systems without unnamed files (some network and FUSE ones) get a named temporary.
        guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
            throw PrismError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var template = Array((path + ".XXXXXX.partial").utf8CString)
        let named = mkstemps(&template, 8)
        guard named >= 0 else { throw PrismError("cannot write \(path): \(String(cString: strerror(errno)))") }
        fchmod(named, 0o644)
        fd = named
        temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { discard() }

    /// Appends `bytes`, retrying short writes.
    /// - Throws: `PrismError` with the system's reason (disk full, file too large).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count, let base = bytes.baseAddress {
            let n = Glibc.write(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            done += n
        }
        written += bytes.count
        // Hand each 64 MiB to the disk as it is written: a multi-GB output (a converted model)
        // is then mostly on disk when `commit` syncs it, instead of all of it waiting for the
        // final fsync. Advisory only: commit's fsync reports any write error.
        if written - writebackFrom >= 64 << 20 {
            _ = prism_start_writeback(fd, Int64(writebackFrom), Int64(written - writebackFrom))
            writebackFrom = written
        }
    }

    /// Bytes appended so far (the file's length after a `truncate` or the appends), and where
    /// the range not yet handed to the disk starts.
    private var written = 0
    private var writebackFrom = 0

    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    /// Writes `bytes` at `offset` (a header written last).
    public func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count, let base = b.baseAddress {
                let n = pwrite(fd, base + done, b.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure(errno)
                }
                done += n
            }
        }
    }

    /// Cuts what was written back to `length` bytes; later writes continue from there.
    /// - Throws: `PrismError` with the system's reason.
    public func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0, lseek(fd, off_t(length), SEEK_SET) >= 0 else { throw failure(errno) }
        written = length
        writebackFrom = min(writebackFrom, length)
    }

    func failure(_ code: Int32) -> PrismError { PrismError("cannot write \(path): \(String(cString: strerror(code)))") }

    /// Syncs the data and gives the file its name: replacing an existing file by rename only
    /// with `force`, else failing if one appeared meanwhile.
    /// - Throws: `PrismError` naming the path and the system's reason.
    public func commit() throws {
        guard !done else { return }
        // Results from a model rewritten under the command are not given a name.
        try MappedFile.checkAllUnchanged()
        guard fsync(fd) == 0 else { throw failure(errno) }
        if dropsCacheOnCommit { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) }
        if let temporary {
            if force {
                guard rename(temporary, path) == 0 else { throw renameFailure(errno) }
            } else {
                guard prism_rename_noreplace(temporary, path) == 0 || errno == EINVAL && link(temporary, path) == 0 && unlink(temporary) == 0 else {
                    throw renameFailure(errno)
                }
            }
        } else if force {
            // Link the unnamed file under a fresh name beside the output, then rename it over.
            var linked: String? = nil
            for _ in 0..<16 {
                let candidate = path + ".\(UInt32.random(in: 0...UInt32.max)).partial"
                if prism_link_tmpfile(fd, candidate) == 0 { linked = candidate; break }
                guard errno == EEXIST else { throw failure(errno) }
            }
            guard let linked else { throw failure(EEXIST) }
            guard rename(linked, path) == 0 else {
                let code = errno
                unlink(linked)
                throw renameFailure(code)
            }
        } else {
            guard prism_link_tmpfile(fd, path) == 0 else { throw renameFailure(errno) }
        }
        done = true
        close(fd)
        Outputs.syncDirectory(of: path)
    }

    func renameFailure(_ code: Int32) -> PrismError {
        switch code {
        case EEXIST: return PrismError("\(path) appeared while writing it; pass --force to replace it")
        case EISDIR, ENOTEMPTY: return PrismError("\(path) is a directory; refusing to replace it")
        default: return PrismError("cannot write \(path): \(String(cString: strerror(code)))")
        }
    }

    /// Drops what was written (nothing appears under `path`).
    public func discard() {
        guard !done else { return }
        done = true
        close(fd)
        if let temporary { unlink(temporary) }
    }
}

/// Writes `data` as `path` under the rule of `Outputs` (atomically, synced, replacing only with
/// `force`). A failure (disk full, no permission) leaves nothing new and is one line naming
/// `path` and the system's reason.
/// - Throws: `PrismError`.
public func writeFileAtomically(_ data: Data, to path: String, force: Bool) throws {
    let out = try AtomicOutput(path: path, force: force)
    try out.write(data)
    try out.commit()
}

/// Writes a set of files into `dir` as a whole: into a fresh directory beside it, then renamed
/// (or swapped) into place, so `dir` holds either its old set, untouched, or the new one, never
/// a mix or a part, whatever fails (a full disk). An old set is replaced only with `force`, and
/// only if `dir` holds nothing but files its manifest lists (`Outputs.checkSet`); those files
/// are then removed, nothing else.
/// - Returns: a note for the user when the old set's directory could not be removed entirely.
/// - Throws: `PrismError` naming the file and the system's reason.
@discardableResult
public func writeFileSet(_ dir: String, _ files: [(name: String, bytes: Data)], force: Bool, inputs: [String] = []) throws -> String? {
    try MappedFile.checkAllUnchanged()
    try Outputs.checkSet(dir, force: force, inputs: inputs)
    // `checkSet` has refused a missing parent (a mistyped path is not created).
    let parent = Outputs.directory(of: dir)
    let base = PathNames.lastComponent(of: dir)
    var template = Array((parent + "/." + base + ".XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { throw PrismError("cannot write \(dir): \(String(cString: strerror(errno)))") }
    let fresh = String(cString: made)
    chmod(fresh, 0o755)
    var written: [String] = []
    func removeFresh() {
        for name in written { unlink(fresh + "/" + name) }
        rmdir(fresh)
    }
    do {
        let manifest = try JSONSerialization.data(withJSONObject: ["written_by": "prism", "files": files.map(\.name)], options: [.sortedKeys])
        for (name, bytes) in files + [(Outputs.manifestName, manifest)] {
            guard !name.contains("/"), !name.isEmpty else { throw PrismError("internal: bad file name '\(name)' in an output set") }
            let path = fresh + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw PrismError("cannot write \(dir)/\(name): \(String(cString: strerror(errno)))") }
            written.append(name)
            var failure: Int32 = 0
            bytes.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                var done = 0
                while done < b.count, let p = b.baseAddress {
                    let n = write(fd, p + done, b.count - done)
                    if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                    done += n
                }
            }
            if failure == 0, fsync(fd) != 0 { failure = errno }
            if close(fd) != 0, failure == 0 { failure = errno }
            if failure != 0 { throw PrismError("cannot write \(dir)/\(name): \(String(cString: strerror(failure)))") }
        }
        Outputs.syncDirectory(of: fresh + "/x")
        // Into place: a missing or empty directory is simply replaced; an old set is swapped
        // out atomically, then its own files are removed.
        if rename(fresh, dir) == 0 {
            Outputs.syncDirectory(of: dir)
            return nil
        }
        guard errno == ENOTEMPTY || errno == EEXIST else { throw PrismError("cannot write \(dir): \(String(cString: strerror(errno)))") }
        guard force else { throw PrismError("\(dir) appeared while writing it; pass --force to replace it") }
        let old = try Outputs.manifest(of: dir)
        var oldPlace = fresh
        if prism_rename_exchange(fresh, dir) != 0 {
            guard errno == EINVAL else { throw PrismError("cannot replace \(dir): \(String(cString: strerror(errno)))") }
            // No atomic exchange here: move the old set aside, then the new one in (a crash
            // between the two leaves the old set whole under the hidden name).
            var aside = Array((parent + "/." + base + ".old.XXXXXX").utf8CString)
            guard let a = mkdtemp(&aside) else { throw PrismError("cannot replace \(dir): \(String(cString: strerror(errno)))") }
            oldPlace = String(cString: a)
            guard rename(dir, oldPlace) == 0 else { rmdir(oldPlace); throw PrismError("cannot replace \(dir): \(String(cString: strerror(errno)))") }
            guard rename(fresh, dir) == 0 else {
                let code = errno
                rename(oldPlace, dir)
                throw PrismError("cannot replace \(dir): \(String(cString: strerror(code)))")
            }
        }
        written = []  // the new set is in place; what lies at oldPlace is the old one
        Outputs.syncDirectory(of: dir)
        for name in old.union([Outputs.manifestName]) { unlink(oldPlace + "/" + name) }
        if rmdir(oldPlace) != 0 {
            return "the old contents of \(dir) that prism did not write were kept in \(oldPlace)"
        }
        return nil
    } catch {
        removeFresh()
        throw error
    }
}

/// Drops what standard output still holds in its buffer, unwritten (glibc; elsewhere nothing):
/// results found invalid before they were flushed are not reported.
public func discardBufferedStandardOutput() {
    prism_discard_stdout_buffer()
}

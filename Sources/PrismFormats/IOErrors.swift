import Foundation
import PrismSupport

/// The reason a write failed, as the system says it ("No space left on device", "File too
/// large", "Permission denied"), for one-line errors; Foundation's own text ("The operation
/// could not be completed. ...") says less.
public func describeIOError(_ error: Error) -> String {
    let ns = error as NSError
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if let c = error as? CocoaError {
        switch c.code {
        case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
        case .fileWriteNoPermission: return String(cString: strerror(EACCES))
        case .fileWriteVolumeReadOnly: return String(cString: strerror(EROFS))
        case .fileNoSuchFile, .fileWriteInvalidFileName: return String(cString: strerror(ENOENT))
        default: break
        }
    }
    return ns.localizedDescription
}

/// Writes `data` to `path` atomically (`<path>.partial`, synced, renamed into place): a failure
/// (disk full, no permission) leaves nothing under either name and is one line naming `path`
/// and the system's reason. (Foundation's atomic write reports only "error 512" on Linux.)
public func writeFileAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".partial"
    func fail(_ what: String, _ code: Int32) -> PrismError {
        PrismError("cannot write \(path): \(what)\(String(cString: strerror(code)))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw fail("", errno) }
    var failure: PrismError? = nil
    data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
        var done = 0
        while done < buffer.count, let base = buffer.baseAddress {
            let n = write(fd, base + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                failure = fail("", errno)
                return
            }
            done += n
        }
    }
    if failure == nil, fsync(fd) != 0 { failure = fail("", errno) }
    if close(fd) != 0, failure == nil { failure = fail("", errno) }
    if failure == nil, rename(temporary, path) != 0 { failure = fail("renaming \(temporary): ", errno) }
    if let failure {
        unlink(temporary)
        throw failure
    }
}

/// Writes the files of one output as a set: each atomically, and when one fails (disk full)
/// the ones already written are removed, so `dir` never holds half an output.
public func writeFilesAsSet(_ dir: String, _ files: [(name: String, bytes: Data)]) throws {
    var written: [String] = []
    do {
        for f in files {
            try writeFileAtomically(f.bytes, to: dir + "/" + f.name)
            written.append(dir + "/" + f.name)
        }
    } catch {
        for p in written { unlink(p) }
        throw error
    }
}

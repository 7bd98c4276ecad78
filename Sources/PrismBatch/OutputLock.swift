import Foundation
import PrismSupport

/// The exclusive right to write one batch output, held for the whole run: an `flock` on
/// `OUTPUT.lock`, which names its holder (process, host, start time) so that a second `prism
/// batch` on the same output (a job started twice, a replacement pod while the old one runs)
/// refuses with one line instead of tearing the results. The kernel releases the lock when the
/// process ends, however it ends; the small file stays (removing it could let two processes
/// each lock a different file of the same name).
public final class OutputLock {
    public let path: String
    private let fd: Int32

    /// - Throws: `PrismError` naming the holder when another process writes `output`.
    public init(output: String) throws {
        path = output + ".lock"
        // A file of that name that is not a lock (a user's) is not overwritten with the note.
        if let existing = FileManager.default.contents(atPath: path), !existing.isEmpty, !existing.starts(with: Data("pid ".utf8)) {
            throw PrismError("\(path) exists and is not a prism batch lock; move it, or use another --output")
        }
        // Retried when the file was replaced between opening and locking it.
        for _ in 0..<8 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else { throw PrismError("cannot open \(path): \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                let holder = Self.holder(fd)
                close(fd)
                if code == EWOULDBLOCK {
                    throw PrismError("\(output) is locked: another prism batch is writing it (\(holder)); wait for it to end or use another --output")
                }
                throw PrismError("cannot lock \(path): \(String(cString: strerror(code)))")
            }
            var held = stat(), named = stat()
            if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino {
                self.fd = fd
                let note = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName) since \(ISO8601DateFormatter().string(from: Date()))\n"
                _ = ftruncate(fd, 0)
                _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
                return
            }
            close(fd)
        }
        throw PrismError("cannot lock \(path): it keeps being replaced")
    }

    deinit { close(fd) }

    /// Whether another process holds the lock of `output` now, and who (for `merge`).
    public static func holder(of output: String) -> String? {
        let fd = open(output + ".lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) != 0, errno == EWOULDBLOCK else { return nil }
        return holder(fd)
    }

    /// The holder's note; the holder writes it just after locking, so an empty note is read
    /// again a few times before giving up.
    static func holder(_ fd: Int32) -> String {
        for attempt in 0..<5 {
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = pread(fd, &buffer, buffer.count, 0)
            let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            if !text.isEmpty { return text }
            if attempt < 4 { usleep(20_000) }
        }
        return "holder unknown"
    }
}

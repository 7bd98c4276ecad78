import Foundation

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

/// The directory and last component of a path, in plain Swift. Foundation's `NSString` path
/// methods trapped (SIGILL in `_startOfLastPathComponent`) on some one-character paths
/// (`prism study digits -o y`), so no output or input name goes through them.
public enum PathNames {
    /// The directory part of `path`, as `dirname(1)` gives it: "." for a bare name, "/" for a
    /// name at the root; trailing slashes are not a component ("a/b/" -> "a").
    public static func directory(of path: String) -> String {
        let p = trimmingTrailingSlashes(Substring(path))
        guard let slash = p.lastIndex(of: "/") else { return "." }
        let d = trimmingTrailingSlashes(p[..<slash])
        return d.isEmpty ? "/" : String(d)
    }

    /// The last component of `path` ("a/b/" -> "b", "/" -> "/", "" -> "").
    public static func lastComponent(of path: String) -> String {
        let p = trimmingTrailingSlashes(Substring(path))
        if p == "/" { return "/" }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return String(p[p.index(after: slash)...])
    }

    static func trimmingTrailingSlashes(_ s: Substring) -> Substring {
        var s = s
        while s.count > 1, s.hasSuffix("/") { s = s.dropLast() }
        return s
    }
}

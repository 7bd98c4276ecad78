/// A pointer handed to the workers of one `DispatchQueue.concurrentPerform`, which read it or
/// write disjoint parts of it (the caller's promise: that is what makes sharing it sound), and
/// which all end before the memory does.
public struct SharedPointer<Pointee>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<Pointee>
    public init(_ p: UnsafeMutablePointer<Pointee>) { self.p = p }
    public init(_ p: UnsafePointer<Pointee>) { self.p = UnsafeMutablePointer(mutating: p) }
}

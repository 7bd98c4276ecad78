import CPrismKernels

public enum Heap {
    /// Returns the heap memory the C library holds after frees to the kernel (glibc's
    /// `malloc_trim`; nothing elsewhere), so that resident memory is what is in use. Cheap when
    /// there is nothing to release; called before each planned pass.
    @discardableResult
    public static func releaseFree() -> Bool { prism_release_free_heap() != 0 }
}

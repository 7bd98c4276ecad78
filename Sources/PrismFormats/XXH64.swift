import CXXHash

/// XXH64 (Yann Collet's xxHash, 64-bit, seed 0 unless given), the checksum of the converted
/// model file and the activation store: several GB/s, so `prism verify` can afford to check
/// every byte. Computed by xxHash's own code from Debian's `libxxhash-dev` (inlined, see
/// Sources/CXXHash/shim.h).
///
/// Streaming: `var h = XXH64(); h.update(a); h.update(b); h.finalize()` equals
/// `XXH64.hash(a + b)` however the bytes are split. A copy of a value continues independently.
public struct XXH64 {
    /// xxHash's streaming state, held by value.
    private var state = prism_xxh64_state()

    public init(seed: UInt64 = 0) {
        prism_xxh64_reset(&state, seed)
    }

    /// Adds `data` to the hash (any length, empty included).
    public mutating func update(_ data: UnsafeRawBufferPointer) {
        // xxHash refuses only a null pointer with a non-zero length, excluded here.
        guard let base = data.baseAddress, data.count > 0 else { return }
        prism_xxh64_update(&state, base, data.count)
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The hash of every byte given so far; the value can still be updated afterwards.
    public func finalize() -> UInt64 {
        withUnsafePointer(to: state) { prism_xxh64_digest($0) }
    }

    /// The hash of `data` in one call.
    public static func hash(_ data: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        prism_xxh64(data.baseAddress, data.count, seed)
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    /// 16 lowercase hex digits, as stored in the file's directory.
    public static func hex(_ h: UInt64) -> String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

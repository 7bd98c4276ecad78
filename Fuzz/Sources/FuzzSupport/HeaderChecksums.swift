import PrismFormats

/// The model file and the activation store share a 64-byte header: magic, then (little-endian
/// u64) directory offset at 16, directory length at 24, file length at 32, the directory's
/// XXH64 at 40 and the header's XXH64 at 56. Writes the length and both checksums into mutated
/// bytes (the directory's only when it is in bounds), so the fuzzer gets past them and reaches
/// the parsers behind.
public func fixHeaderChecksums(_ b: inout [UInt8], magic: [UInt8]) {
    guard b.count >= 64, Array(b[0..<magic.count]) == magic else { return }
    func get(_ o: Int) -> UInt64 { b[o..<(o + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    func put(_ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    put(32, UInt64(b.count))
    let off = get(16), len = get(24)
    if off <= UInt64(b.count), len <= UInt64(b.count) - off {
        put(40, XXH64.hash(Array(b[Int(off)..<Int(off + len)])))
    }
    put(56, XXH64.hash(Array(b[0..<56])))
}

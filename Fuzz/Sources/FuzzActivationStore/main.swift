import FuzzDriver
import Foundation
import PrismFormats

/// Fuzz target: the activation store (.acts): header, JSON index, chunk bounds, LZ4 chunks.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // As for the model file, the header's length and checksums are recomputed for the mutated
    // bytes, and chunk checksums are not checked, so the fuzzer reaches the index and LZ4.
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fixActivationStoreChecksums(&bytes)
    bytes.withUnsafeBytes { all in
        guard let (index, _) = try? ActivationStoreReader.parse(all, path: "fuzz.acts") else { return }
        for t in index.tensors {
            if let v = try? ActivationStoreReader.decode(t, from: all, path: "fuzz.acts", checksums: false) {
                precondition(v.count == checkedElementCount(t.shape), "decoded count")
            }
        }
    }
    return 0
}

/// Writes the file length, the index's XXH64 (when the index is in bounds) and the header's
/// XXH64 into a mutated activation store.
func fixActivationStoreChecksums(_ b: inout [UInt8]) {
    guard b.count >= 64, Array(b[0..<8]) == ActivationStoreFormat.magic else { return }
    func get(_ o: Int) -> UInt64 { b[o..<(o + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    func put(_ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    put(32, UInt64(b.count))
    let off = get(16), len = get(24)
    if off <= UInt64(b.count), len <= UInt64(b.count) - off {
        put(40, XXH64.hash(Array(b[Int(off)..<Int(off + len)])))
    }
    put(56, XXH64.hash(Array(b[0..<56])))
}

/// SwiftPM links executables with `--defsym main=FuzzActivationStore_main`; run libFuzzer's driver from it.
@_cdecl("FuzzActivationStore_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    prism_fuzz_run(argc, argv) { data, size in
        guard let data else { var empty: UInt8 = 0; return fuzz(&empty, 0) }
        return fuzz(data, size)
    }
}

import Foundation
import FuzzDriver
import FuzzSupport
import PrismFormats

/// Fuzz target: the activation store (.acts): header, JSON index, chunk bounds, LZ4 chunks.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // As for the model file, the header's length and checksums are recomputed for the mutated
    // bytes, and chunk checksums are not checked, so the fuzzer reaches the index and LZ4.
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fixHeaderChecksums(&bytes, magic: ActivationStoreFormat.magic)
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

/// SwiftPM links executables with `--defsym main=FuzzActivationStore_main`; run libFuzzer's driver from it.
@_cdecl("FuzzActivationStore_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

import Foundation
import FuzzDriver
import PrismFormats

/// Fuzz target: model.safetensors.index.json: the weight map and shard names.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let (shards, map) = try? SafeTensorsCheckpoint.parseIndex(Data(bytes: data, count: size), path: "model.safetensors.index.json") {
        for s in shards { precondition(!s.isEmpty && !s.contains("/") && s != ".." && s != ".", "bad shard name accepted") }
        _ = map.count
    }
    return 0
}

/// SwiftPM links executables with `--defsym main=FuzzSafeTensorsIndex_main`; run libFuzzer's driver from it.
@_cdecl("FuzzSafeTensorsIndex_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

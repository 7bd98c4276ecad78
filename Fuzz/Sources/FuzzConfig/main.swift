import Foundation
import FuzzDriver
import PrismModel

/// Fuzz target: config.json: GemmaConfig.decode must throw a PrismError or return a validated config.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let c = try? GemmaConfig.decode(Data(bytes: data, count: size)) {
        _ = c.kvHeads; _ = c.headDim; _ = c.ropeTheta
        _ = try? c.activation()
        // The names and shapes the weights are bound by (bounded by validate's caps).
        _ = GemmaTensorNames.expectedShapes(c).count
    }
    return 0
}

/// SwiftPM links executables with `--defsym main=FuzzConfig_main`; run libFuzzer's driver from it.
@_cdecl("FuzzConfig_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

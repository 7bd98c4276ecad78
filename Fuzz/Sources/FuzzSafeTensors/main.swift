import Foundation
import FuzzDriver
import PrismFormats

/// Fuzz target: a safetensors file: the 8-byte header length, the JSON header, every entry's dtype, shape and offsets.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let all = UnsafeRawBufferPointer(start: data, count: size)
    if let (entries, _) = try? SafeTensorsFile.parseHeader(all, name: "fuzz.safetensors") {
        // Every accepted entry must lie inside the buffer and match its shape's byte count.
        for e in entries.values {
            precondition(e.range.lowerBound >= 8 && e.range.upperBound <= size, "entry \(e.name) outside the file")
            precondition(checkedElementCount(e.shape).map { $0 * e.dtype.byteSize } == e.range.count, "entry \(e.name) size")
            _ = UnsafeRawBufferPointer(rebasing: all[e.range]).reduce(0, &+)
        }
    }
    return 0
}

/// SwiftPM links executables with `--defsym main=FuzzSafeTensors_main`; run libFuzzer's driver from it.
@_cdecl("FuzzSafeTensors_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

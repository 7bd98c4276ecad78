import Foundation
import FuzzDriver
import PrismBatch

/// Fuzz target: batch input (JSONL prompt lines): every line becomes a record or an error record.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = BatchInput.read(data: Data(bytes: data, count: size)) { _ in "" }
    for e in input.entries {
        switch e {
        case .success(let r): precondition(!r.id.isEmpty && (r.prompt == nil) != (r.ids == nil), "record \(r.id)")
        case .failure(let b): precondition(!b.error.isEmpty, "empty error")
        }
    }
    return 0
}

/// SwiftPM links executables with `--defsym main=FuzzBatchInput_main`; run libFuzzer's driver from it.
@_cdecl("FuzzBatchInput_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

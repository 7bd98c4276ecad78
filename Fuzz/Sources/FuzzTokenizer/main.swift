import Foundation
import FuzzDriver
import PrismTokenizer

/// Fuzz target: tokenizer.json through the tokenizer's own JSON reader, then a round trip on fixed text.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let t = try? GemmaTokenizer(jsonBytes: Array(UnsafeBufferPointer(start: data, count: size))) {
        let ids = t.encode("Hello, World! The capital of France is Paris. 7+2=9 <bos> \u{1F600} \t\n  x")
        _ = try? t.decode(ids)
        _ = try? t.decode(ids, skipSpecialTokens: false)
        _ = try? t.decode([0, 1, 2, 3, t.vocabularySize - 1, t.vocabularySize, -1])
        for id in ids.prefix(8) { _ = t.piece(for: id); _ = t.isSpecial(id) }
    }
    return 0
}

/// SwiftPM links executables with `--defsym main=FuzzTokenizer_main`; run libFuzzer's driver from it.
@_cdecl("FuzzTokenizer_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

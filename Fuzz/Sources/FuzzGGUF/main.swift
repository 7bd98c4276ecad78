import Foundation
import FuzzDriver
import PrismFormats

/// Fuzz target: a GGUF file: header, metadata (every value type, nested arrays), tensor infos,
/// alignment, and the dequantization of every accepted tensor of a supported type.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let all = UnsafeRawBufferPointer(start: data, count: size)
    guard let layout = try? GGUFFile.parse(all, path: "fuzz.gguf") else { return 0 }
    var end = 0
    for t in layout.tensors.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
        // Accepted tensors lie inside the buffer, in order, aligned, sized by their type.
        precondition(t.range.lowerBound >= end && t.range.upperBound <= size, "tensor \(t.name) outside the file or overlapping")
        precondition(t.offset % layout.alignment == 0 && t.range.lowerBound == layout.dataStart + t.offset, "tensor \(t.name) offset")
        precondition(t.byteCount == t.elementCount / t.type.blockSize * t.type.typeSize, "tensor \(t.name) size")
        end = t.range.upperBound
        // Dequantize what fits a small output (the input is at most -max_len bytes, but a block
        // of 256 elements can be 84 bytes: bound the output, not the input).
        guard t.type.canDequantize, t.elementCount <= 1 << 16, let src = all.baseAddress else { continue }
        var out = [Float](repeating: 0, count: t.elementCount)
        do {
            try GGMLDequantize.rows(t.type, src + t.range.lowerBound, elements: t.elementCount, into: &out)
        } catch {
            preconditionFailure("dequantizing accepted tensor \(t.name) failed: \(error)")
        }
    }
    return 0
}

/// SwiftPM links executables with `--defsym main=FuzzGGUF_main`; run libFuzzer's driver from it.
@_cdecl("FuzzGGUF_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

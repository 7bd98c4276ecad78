import FuzzDriver
import Foundation
import PrismModel
import PrismFormats
import PrismTokenizer

/// Fuzz target: the converted .prism file: header, directory, parts, then the embedded config and the tensor set it needs.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // The header and directory carry checksums and the file's length; random mutations would
    // almost never get past them, so they are recomputed here for the bytes as mutated (the
    // checks themselves are covered by the unit tests).
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fixModelFileChecksums(&bytes)
    bytes.withUnsafeBytes { all in
        guard let (header, directory, byName) = try? ModelFile.parse(all, path: "fuzz.prism") else { return }
        _ = ModelFile.verify(all, header: header, directory: directory)
        if let c = try? GemmaConfig.decode(Data(directory.config.utf8), source: "fuzz.prism (embedded config.json)") {
            let expected = GemmaTensorNames.expectedShapes(c)
            for (name, shape) in expected { if let i = byName[name] { _ = directory.tensors[i].shape == shape } }
        }
        if let t = directory.tokenizer {
            _ = try? GemmaTokenizer(jsonBytes: Array(UnsafeRawBufferPointer(rebasing: all[t.offset..<(t.offset + t.length)])))
        }
    }
    return 0
}

/// Writes the file length, the directory's XXH64 (when the directory is in bounds) and the
/// header's XXH64 into a mutated model file.
func fixModelFileChecksums(_ b: inout [UInt8]) {
    guard b.count >= 64, Array(b[0..<8]) == ModelFileFormat.magic else { return }
    func get(_ o: Int) -> UInt64 { b[o..<(o + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    func put(_ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    put(32, UInt64(b.count))
    let off = get(16), len = get(24)
    if off <= UInt64(b.count), len <= UInt64(b.count) - off {
        put(40, XXH64.hash(Array(b[Int(off)..<Int(off + len)])))
    }
    put(56, XXH64.hash(Array(b[0..<56])))
}

/// SwiftPM links executables with `--defsym main=FuzzModelFile_main`; run libFuzzer's driver from it.
@_cdecl("FuzzModelFile_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    prism_fuzz_run(argc, argv) { data, size in
        guard let data else { var empty: UInt8 = 0; return fuzz(&empty, 0) }
        return fuzz(data, size)
    }
}

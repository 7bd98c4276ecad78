import Foundation
import FuzzDriver
import FuzzSupport
import PrismFormats
import PrismModel
import PrismTokenizer

/// Fuzz target: the converted .prism file: header, directory, parts, then the embedded config and the tensor set it needs.
/// Any input must give a result or a thrown error: never a trap, an overrun or a huge allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // The header and directory carry checksums and the file's length; random mutations would
    // almost never get past them, so they are recomputed here for the bytes as mutated (the
    // checks themselves are covered by the unit tests).
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fixHeaderChecksums(&bytes, magic: ModelFileFormat.magic)
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

/// SwiftPM links executables with `--defsym main=FuzzModelFile_main`; run libFuzzer's driver from it.
@_cdecl("FuzzModelFile_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { prism_fuzz_main(argc, argv) }

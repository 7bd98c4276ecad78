import Foundation
import PrismBatch
import PrismFormats
import PrismModel
import PrismSupport
import PrismTokenizer
import XCTest

/// Every input the fuzz targets (Fuzz/) found to crash, hang or allocate without bound is kept
/// under Tests/Fixtures/regressions/<target>/ and replayed here through the same entry point
/// as the target: each must now be accepted or refused with a one-line PrismError.
/// (Inputs of the .prism and .acts targets are stored with their checksums already fixed up, as
/// the targets fix them up before parsing.)
final class FuzzRegressionTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/regressions").path

    /// The error each regression input must give now (a substring), by file name.
    static let expected: [String: String] = [
        "head-dim-division-by-zero.json": "num_attention_heads = 0 is out of range",
        "sixteen-million-layers.json": "num_hidden_layers = 16000000 is out of range",
        "empty-tensor-hides-overlap.safetensors": "overlap in the data section",
        "offset-1e300.safetensors": "data_offsets must be [begin, end]",
    ]

    /// Runs one input through the parser a target exercises; returns the error, if any.
    static func replay(target: String, _ bytes: [UInt8]) -> Error? {
        do {
            switch target {
            case "FuzzConfig":
                let c = try GemmaConfig.decode(Data(bytes))
                _ = GemmaTensorNames.expectedShapes(c)
            case "FuzzSafeTensors":
                _ = try bytes.withUnsafeBytes { try SafeTensorsFile.parseHeader($0, name: "regression.safetensors") }
            case "FuzzSafeTensorsIndex":
                _ = try SafeTensorsCheckpoint.parseIndex(Data(bytes), path: "model.safetensors.index.json")
            case "FuzzTokenizer":
                let t = try GemmaTokenizer(jsonBytes: bytes)
                _ = try t.decode(t.encode("Hello, World! 7+2=9"))
            case "FuzzModelFile":
                try bytes.withUnsafeBytes { all in
                    let (h, d, _) = try ModelFile.parse(all, path: "regression.prism")
                    _ = ModelFile.verify(all, header: h, directory: d)
                }
            case "FuzzActivationStore":
                try bytes.withUnsafeBytes { all in
                    let (index, _) = try ActivationStoreReader.parse(all, path: "regression.acts")
                    for t in index.tensors { _ = try ActivationStoreReader.decode(t, from: all, path: "regression.acts", checksums: false) }
                }
            case "FuzzBatchInput":
                _ = BatchInput.read(data: Data(bytes)) { _ in "" }
            case "FuzzGGUF":
                try bytes.withUnsafeBytes { all in
                    let layout = try GGUFFile.parse(all, path: "regression.gguf")
                    guard let base = all.baseAddress else { return }
                    for t in layout.tensors where t.type.canDequantize {
                        var out = [Float](repeating: 0, count: t.elementCount)
                        try GGMLDequantize.rows(t.type, base + t.range.lowerBound, elements: t.elementCount, into: &out)
                    }
                }
            default:
                XCTFail("unknown fuzz target directory \(target)")
            }
            return nil
        } catch {
            return error
        }
    }

    func testEveryRegressionInput() throws {
        let fm = FileManager.default
        var count = 0
        for target in try fm.contentsOfDirectory(atPath: Self.root).sorted() {
            for name in try fm.contentsOfDirectory(atPath: Self.root + "/" + target).sorted() {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.root + "/" + target + "/" + name)))
                let error = Self.replay(target: target, bytes)
                if let error {
                    XCTAssertTrue(error is PrismError, "\(target)/\(name): \(error) is not a PrismError")
                    XCTAssertFalse("\(error)".contains("\n"), "\(target)/\(name): error is not one line")
                }
                if let needle = Self.expected[name] {
                    XCTAssertTrue(error.map { "\($0)".contains(needle) } ?? false, "\(target)/\(name): expected '\(needle)', got \(String(describing: error))")
                }
                count += 1
            }
        }
        XCTAssertGreaterThan(count, 0)
    }

    /// An activation store whose index lists the same 16-byte chunk 256 times as 1 MiB each,
    /// for a 256 MiB tensor: refused before anything is allocated (found by review while writing
    /// the fuzz target; chunks must now follow one another and claim at most 255x their size).
    func testRepeatedChunksAreRefusedBeforeAllocating() throws {
        var file = [UInt8](repeating: 0, count: 64) + [UInt8](repeating: 0x11, count: 16)
        let chunk: [String: Any] = ["offset": 64, "length": 16, "raw": 1 << 20, "xxh64": XXH64.hex(XXH64.hash(Array(file[64..<80])))]
        let tensor: [String: Any] = ["name": "embed", "shape": [1 << 26], "dtype": "f32", "chunks": Array(repeating: chunk, count: 256)]
        let index: [String: Any] = ["format": "logit-prisms activations", "model": "m", "model_path": "m", "ids": [2], "tensors": [tensor]]
        let json = [UInt8](try JSONSerialization.data(withJSONObject: index))
        let indexOffset = file.count
        file += json
        var header = ActivationStoreFormat.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        put(ActivationStoreFormat.versionMajor); put(ActivationStoreFormat.versionMinor)
        put(UInt64(indexOffset)); put(UInt64(json.count)); put(UInt64(file.count)); put(XXH64.hash(json)); put(UInt64(0))
        put(XXH64.hash(header))
        file.replaceSubrange(0..<64, with: header)
        let error = Self.replay(target: "FuzzActivationStore", file)
        XCTAssertTrue(String(describing: error).contains("tensor embed has a chunk"), String(describing: error))
    }
}

import Foundation
import PrismSupport

/// A converted model file, memory-mapped. Opening it is a bounds-checked parse: header
/// checksum, directory checksum and every part's range and length are checked before any
/// tensor is handed out; the data checksums are checked by `verify()` (a full read).
public final class ModelFile: PageReleasing, @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    public let header: ModelFileFormat.Header
    public let directory: ModelFileFormat.Directory
    private let byName: [String: Int]

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        (header, directory, byName) = try Self.parse(file.all, path: path)
    }

    /// Parses and bounds-checks a whole model file given as bytes (the fuzz targets call this
    /// directly): header and directory checksums, every part's range, alignment and length
    /// against its tensor's shape and encoding, and that no two parts overlap.
    public static func parse(
        _ all: UnsafeRawBufferPointer, path: String
    ) throws
        -> (header: ModelFileFormat.Header, directory: ModelFileFormat.Directory, byName: [String: Int])
    {
        let size = all.count
        let header = try ModelFileFormat.Header.decode(UnsafeRawBufferPointer(rebasing: all[0..<min(size, ModelFileFormat.headerSize)]), path: path)
        guard header.fileLength == UInt64(size) else {
            throw PrismError("\(path): truncated or extended model file (\(size) bytes, header says \(header.fileLength))")
        }
        guard header.directoryLength <= UInt64(ModelFileFormat.maxDirectoryBytes),
            header.directoryOffset >= UInt64(ModelFileFormat.headerSize),
            header.directoryOffset <= UInt64(size),
            header.directoryLength <= UInt64(size) - header.directoryOffset
        else {
            throw PrismError("\(path): model file directory is out of bounds")
        }
        let dirRange = Int(header.directoryOffset)..<Int(header.directoryOffset + header.directoryLength)
        let dirBytes = UnsafeRawBufferPointer(rebasing: all[dirRange])
        guard XXH64.hash(dirBytes) == header.directoryChecksum else {
            throw PrismError("\(path): model file directory is corrupt (checksum mismatch)")
        }
        let directory: ModelFileFormat.Directory
        do {
            directory = try JSONDecoder().decode(ModelFileFormat.Directory.self, from: Data(dirBytes))
        } catch DecodingError.dataCorrupted(let ctx) where ctx.codingPath.last?.stringValue == "encoding" {
            throw PrismError("\(path): a tensor uses an encoding this prism does not know (newer file?)")
        } catch {
            throw PrismError("\(path): model file directory is malformed")
        }
        var byName: [String: Int] = [:]
        var ranges: [(Range<Int>, String)] = [(0..<ModelFileFormat.headerSize, "header"), (dirRange, "directory")]
        func checkPart(_ p: ModelFileFormat.Part, _ what: String, expectedLength: Int?) throws {
            guard p.offset >= 0, p.length >= 0, p.offset <= size, p.length <= size - p.offset else {
                throw PrismError("\(path): \(what) is out of bounds")
            }
            guard p.offset % ModelFileFormat.alignment == 0 else { throw PrismError("\(path): \(what) is not 64-byte aligned") }
            if let e = expectedLength, e != p.length {
                throw PrismError("\(path): \(what) has \(p.length) bytes, its shape needs \(e)")
            }
            guard p.xxh64.count == 16, UInt64(p.xxh64, radix: 16) != nil else { throw PrismError("\(path): \(what) has a malformed checksum") }
            ranges.append((p.offset..<(p.offset + p.length), what))
        }
        if let t = directory.tokenizer { try checkPart(t, "tokenizer", expectedLength: nil) }
        for (i, t) in directory.tensors.enumerated() {
            guard byName[t.name] == nil else { throw PrismError("\(path): tensor \(t.name) appears twice") }
            byName[t.name] = i
            let lengths = try ModelFileFormat.expectedPartLengths(t)
            guard Set(lengths.keys) == Set(t.parts.keys) else {
                throw PrismError("\(path): tensor \(t.name) has parts \(t.parts.keys.sorted()), expected \(lengths.keys.sorted())")
            }
            for (k, p) in t.parts { try checkPart(p, "tensor \(t.name) part \(k)", expectedLength: lengths[k]) }
        }
        let sorted = ranges.filter { !$0.0.isEmpty }.sorted { $0.0.lowerBound < $1.0.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.0.lowerBound < a.0.upperBound {
            throw PrismError("\(path): \(a.1) and \(b.1) overlap")
        }
        return (header, directory, byName)
    }

    public var tensorNames: [String] { directory.tensors.map(\.name) }

    public func release(_ buffer: UnsafeRawBufferPointer) { file.release(buffer) }

    public func release(spanning buffers: [UnsafeRawBufferPointer]) { file.release(spanning: buffers) }

    @discardableResult public func warmPageCache() -> Bool { file.warmPageCache() }

    public func entry(_ name: String) -> ModelFileFormat.TensorEntry? { byName[name].map { directory.tensors[$0] } }

    public func bytes(_ part: ModelFileFormat.Part) -> UnsafeRawBufferPointer { file.bytes(part.offset..<(part.offset + part.length)) }

    /// The embedded tokenizer.json, read with `pread` (see `MappedFile.copy`) and checked
    /// against its checksum (a corrupt tokenizer otherwise surfaced as a JSON error that named
    /// neither the file nor the cause).
    /// - Throws: `PrismError` when the file cannot be read or the bytes do not match.
    public func tokenizerJSON() throws -> [UInt8]? {
        guard let t = directory.tokenizer else { return nil }
        let bytes = try file.copy(t.offset..<(t.offset + t.length), readahead: true)
        guard XXH64.hex(XXH64.hash(bytes)) == t.xxh64.lowercased() else {
            throw PrismError("\(path): the embedded tokenizer is corrupt (checksum mismatch); `prism verify \(path)` checks every part")
        }
        return bytes
    }

    /// A part's bytes copied with `pread` and no readahead (small tensors read at open: see
    /// `MappedFile.copy`).
    /// - Throws: `PrismError` when the file cannot be read.
    public func copy(_ part: ModelFileFormat.Part) throws -> [UInt8] { try file.copy(part.offset..<(part.offset + part.length), readahead: false) }

    /// Recomputes every checksum and checks that every byte not in a part (alignment
    /// padding) is zero. Returns the first problem found, naming the tensor, or nil.
    public func verify(progress: ((Int) -> Void)? = nil) -> String? {
        Self.verify(file.all, header: header, directory: directory, release: { self.file.release($0) }, progress: progress)
    }

    /// `verify()` over the bytes of a file that `parse` accepted.
    public static func verify(
        _ all: UnsafeRawBufferPointer, header: ModelFileFormat.Header, directory: ModelFileFormat.Directory,
        release: ((Range<Int>) -> Void)? = nil, progress: ((Int) -> Void)? = nil
    ) -> String? {
        var parts: [(String, ModelFileFormat.Part)] = []
        if let t = directory.tokenizer { parts.append(("tokenizer", t)) }
        for t in directory.tensors { for (k, p) in t.parts.sorted(by: { $0.key < $1.key }) { parts.append(("tensor \(t.name) (\(k))", p)) } }
        var covered: [Range<Int>] = [
            0..<ModelFileFormat.headerSize,
            Int(header.directoryOffset)..<Int(header.directoryOffset + header.directoryLength),
        ]
        var done = 0
        for (what, p) in parts {
            // Slab by slab, each released once hashed: resident memory stays at one slab, not
            // the largest tensor (a batch verifies its model under its memory budget).
            var hash = XXH64()
            var start = p.offset
            while start < p.offset + p.length {
                let end = min(p.offset + p.length, start + (8 << 20))
                hash.update(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                release?(start..<end)
                start = end
            }
            if XXH64.hex(hash.finalize()) != p.xxh64 { return "\(what): checksum mismatch" }
            covered.append(p.offset..<(p.offset + p.length))
            done += p.length
            progress?(done)
        }
        covered.sort { $0.lowerBound < $1.lowerBound }
        var cursor = 0
        for r in covered + [all.count..<all.count] {
            if r.lowerBound > cursor {
                for i in cursor..<r.lowerBound where all[i] != 0 { return "padding byte at offset \(i) is not zero" }
                // Released too: with the file in huge folios, reading a few padding bytes maps the
                // 2 MiB around them, and ~160 gaps had left 60 MiB of gemma-3-270m mapped after a
                // batch's content check.
                release?(cursor..<r.lowerBound)
            }
            cursor = max(cursor, r.upperBound)
        }
        return nil
    }
}

import Foundation
import PrismSupport

/// Writes a model file in one pass: parts are streamed in as they are produced (each
/// hashed on the way), the directory goes last, then the header is written at offset 0.
/// Everything goes to a temporary in the output's directory (`AtomicOutput`) that takes the
/// output's name only in `finish()`, so an interrupted conversion never leaves a file that
/// looks valid, and an existing file is replaced (by rename) only when `force` is set.
public final class ModelFileWriter {
    public let output: String
    private let file: AtomicOutput
    private var offset = 0

    /// - Throws: `PrismError` when the output's directory cannot hold a new file.
    public init(output: String, force: Bool) throws {
        self.output = output
        file = try AtomicOutput(path: output, force: force)
        file.dropsCacheOnCommit = true
        try write(Array(repeating: 0, count: ModelFileFormat.headerSize))
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        try file.write(bytes)
        offset += bytes.count
    }

    private func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    private func pad(to alignment: Int) throws {
        let r = offset % alignment
        if r != 0 { try write([UInt8](repeating: 0, count: alignment - r)) }
    }

    /// Streams one part: `produce` is called with a sink to which it hands its bytes in
    /// chunks of any size; the part's length must be known up front (for alignment).
    public func part(length: Int, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> ModelFileFormat.Part {
        try pad(to: length >= ModelFileFormat.largePart ? ModelFileFormat.largeAlignment : ModelFileFormat.alignment)
        let start = offset
        var hash = XXH64()
        try produce { chunk in
            hash.update(chunk)
            try self.write(chunk)
        }
        guard offset - start == length else {
            throw PrismError("internal: part declared \(length) bytes but \(offset - start) were written")
        }
        return ModelFileFormat.Part(offset: start, length: length, xxh64: XXH64.hex(hash.finalize()))
    }

    /// Bytes written so far: a mark to `rewind(to:)`.
    public var position: Int { offset }

    /// Drops everything written after `mark` (a `position` taken earlier), so a tensor that
    /// turned out to need another encoding halfway through can be written again.
    public func rewind(to mark: Int) throws {
        guard mark >= ModelFileFormat.headerSize, mark <= offset else {
            throw PrismError("internal: cannot rewind \(output)'s temporary to \(mark) (at \(offset))")
        }
        try file.truncate(to: mark)
        offset = mark
    }

    public func part(bytes: [UInt8]) throws -> ModelFileFormat.Part {
        try part(length: bytes.count) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }

    /// Writes the directory and header, syncs, and gives the file its name.
    /// - Throws: `PrismError` (disk full, or the output appeared meanwhile without `force`).
    public func finish(directory: ModelFileFormat.Directory) throws {
        try pad(to: ModelFileFormat.alignment)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let dir = [UInt8](try encoder.encode(directory))
        let dirOffset = offset
        try write(dir)
        let header = ModelFileFormat.Header(
            directoryOffset: UInt64(dirOffset), directoryLength: UInt64(dir.count),
            fileLength: UInt64(offset), directoryChecksum: XXH64.hash(dir))
        try file.write(header.encode(), at: 0)
        try file.commit()
    }
}

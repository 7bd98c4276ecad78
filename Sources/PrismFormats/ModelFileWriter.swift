import Foundation
import PrismSupport

/// Writes a model file in one pass: parts are streamed in as they are produced (each
/// hashed on the way), the directory goes last, then the header is written at offset 0.
/// Everything goes to `<output>.partial` and is renamed over `output` only by `finish()`,
/// so an interrupted conversion never leaves a file that looks valid.
public final class ModelFileWriter {
    public let output: String
    public let temporary: String
    private let handle: FileHandle
    private var offset = 0
    private var finished = false

    public init(output: String) throws {
        self.output = output
        temporary = output + ".partial"
        let fm = FileManager.default
        try? fm.removeItem(atPath: temporary)
        guard fm.createFile(atPath: temporary, contents: nil) else {
            throw PrismError("cannot create \(temporary): check that the directory exists and is writable")
        }
        guard let h = FileHandle(forWritingAtPath: temporary) else { throw PrismError("cannot open \(temporary) for writing") }
        handle = h
        try write(Array(repeating: 0, count: ModelFileFormat.headerSize))
    }

    deinit {
        if !finished {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        do {
            try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none))
        } catch {
            throw PrismError("writing \(temporary) failed: \(describeIOError(error))")
        }
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
            throw PrismError("internal: cannot rewind \(temporary) to \(mark) (at \(offset))")
        }
        do {
            try handle.truncate(atOffset: UInt64(mark))
            try handle.seek(toOffset: UInt64(mark))
        } catch {
            throw PrismError("writing \(temporary) failed: \(describeIOError(error))")
        }
        offset = mark
    }

    public func part(bytes: [UInt8]) throws -> ModelFileFormat.Part {
        try part(length: bytes.count) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }

    /// Writes the directory and header, syncs, and renames the file into place.
    public func finish(directory: ModelFileFormat.Directory, replacing: Bool) throws {
        try pad(to: ModelFileFormat.alignment)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let dir = [UInt8](try encoder.encode(directory))
        let dirOffset = offset
        try write(dir)
        let header = ModelFileFormat.Header(directoryOffset: UInt64(dirOffset), directoryLength: UInt64(dir.count),
                                            fileLength: UInt64(offset), directoryChecksum: XXH64.hash(dir))
        do {
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: Data(header.encode()))
            try handle.synchronize()
            try handle.close()
        } catch {
            throw PrismError("writing \(temporary) failed: \(describeIOError(error))")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: output) {
            guard replacing else { throw PrismError("\(output) exists; pass --force to replace it") }
            try? fm.removeItem(atPath: output)
        }
        guard rename(temporary, output) == 0 else {
            throw PrismError("cannot rename \(temporary) to \(output): \(String(cString: strerror(errno)))")
        }
        finished = true
    }
}

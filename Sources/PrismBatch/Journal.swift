import Foundation
import PrismFormats
import PrismSupport

/// The journal beside a batch output (`OUTPUT.journal`): a header naming the model, input,
/// shard and options (the route among them), then per chunk two lines: an intent naming the
/// output's length once the chunk is written, fsynced before the chunk is appended, and, once
/// the chunk is durable, its records' input line numbers (every input line yields exactly one
/// record; ids are the user's and may repeat or be missing) with the output's length after it.
/// After a kill at any moment the last commit says exactly which output bytes are committed,
/// and a pending intent how far prism may have written past them: those bytes (a torn line, a
/// chunk not journalled) are cut off on resume; anything longer was written by someone else,
/// and the resume refuses rather than cut it.
public final class Journal {
    public struct Header: Codable, Equatable {
        public var format = Header.currentFormat
        public static let currentFormat = "logit-prisms batch journal 3"
        public var model: String
        public var input: String
        public var shard: String
        public var options: String
    }

    struct Entry: Codable {
        var chunk: Int
        var lines: [Int]
        var bytes: Int
    }

    /// Written before a chunk's results: the output's length once they are appended.
    struct Intent: Codable {
        var intent: Int
        var bytes: Int
    }

    public let path: String
    public let header: Header
    /// Input line numbers whose records are committed.
    public private(set) var completed: Set<Int> = []
    public private(set) var committedBytes = 0
    /// The most bytes prism may have written to the output: the committed ones, or a pending
    /// intent's (a chunk appended, or being appended, when the last run stopped).
    public private(set) var writtenBytesBound = 0
    private var chunks = 0
    private let handle: FileHandle

    /// Opens (resuming) or creates the journal. Refuses a journal written for another
    /// model, input, shard or options.
    public init(path: String, header: Header, output: String) throws {
        self.path = path
        self.header = header
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            guard let data = fm.contents(atPath: path) else { throw PrismError("cannot read journal \(path)") }
            var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            // A torn last line (killed while writing it) does not count; it is rewritten below.
            let complete = data.last == UInt8(ascii: "\n")
            if !complete { lines.removeLast() }
            lines = lines.filter { !$0.isEmpty }
            guard let first = lines.first, let old = try? JSONDecoder().decode(Header.self, from: Data(first)) else {
                throw PrismError("\(path) is not a batch journal; remove it (and \(output)) to start over")
            }
            guard old.format == header.format else {
                throw PrismError(
                    "\(path) was written by another version of prism (\(old.format)); finish it with that version, or remove it and \(output) to start over")
            }
            guard old == header else {
                var what: [String] = []
                if old.model != header.model { what.append("model") }
                if old.input != header.input { what.append("input") }
                if old.shard != header.shard { what.append("shard") }
                if old.options != header.options { what.append("options (\(old.options), now \(header.options))") }
                throw PrismError(
                    "\(output) was written with another \(what.joined(separator: " and ")) (see \(path)); refusing to append — use another --output or remove both files"
                )
            }
            var keep = first.count + 1
            var pending: Int?
            for line in lines.dropFirst() {
                if let e = try? JSONDecoder().decode(Entry.self, from: Data(line)) {
                    completed.formUnion(e.lines)
                    committedBytes = e.bytes
                    chunks = e.chunk + 1
                    pending = nil
                } else if let i = try? JSONDecoder().decode(Intent.self, from: Data(line)) {
                    pending = i.bytes
                } else {
                    break
                }
                keep += line.count + 1
            }
            writtenBytesBound = max(committedBytes, pending ?? committedBytes)
            // Cut the journal after its last good line.
            guard truncate(path, off_t(keep)) == 0 else { throw PrismError("cannot repair journal \(path)") }
        } else {
            if fm.fileExists(atPath: output) {
                throw PrismError("\(output) exists but has no journal; refusing to append to it — use another --output or remove it")
            }
            let line = try JSONEncoder().encode(header) + Data("\n".utf8)
            try writeFileAtomically(line, to: path, force: false)
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw PrismError("cannot open journal \(path)") }
        try h.seekToEnd()
        handle = h
    }

    /// Records, durably, that a chunk is about to be appended and where the output will end.
    public func intend(outputBytes: Int) throws {
        try append(try JSONEncoder().encode(Intent(intent: chunks, bytes: outputBytes)))
    }

    private func append(_ line: Data) throws {
        do {
            try handle.write(contentsOf: line + Data("\n".utf8))
            try handle.synchronize()
        } catch {
            throw PrismError("writing journal \(path) failed: \(describeIOError(error))")
        }
    }

    /// Records a chunk whose results are already durable in the output, ending at `bytes`.
    public func commit(lines: [Int], outputBytes: Int) throws {
        try append(try JSONEncoder().encode(Entry(chunk: chunks, lines: lines, bytes: outputBytes)))
        completed.formUnion(lines)
        committedBytes = outputBytes
        chunks += 1
    }
}

/// The results file: JSON lines appended per chunk, fsynced before the journal commits them.
public final class ResultsFile {
    public let path: String
    private let handle: FileHandle
    public private(set) var bytes: Int

    /// Opens the output, cutting it back to `committed` bytes (drops a torn line or an
    /// uncommitted chunk left by a kill). An output longer than `bound` (what prism may have
    /// written, see `Journal.writtenBytesBound`) holds bytes someone else added: refused.
    public init(path: String, committed: Int, bound: Int) throws {
        self.path = path
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: nil) else { throw PrismError("cannot create output \(path)") }
        }
        let size = ((try? fm.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        guard size >= committed else {
            throw PrismError("\(path) is shorter (\(size) bytes) than its journal says (\(committed)); it was modified outside prism")
        }
        guard size <= max(bound, committed) else {
            throw PrismError(
                "\(path) is longer (\(size) bytes) than prism wrote (\(max(bound, committed)), by its journal); it was modified outside prism: restore it, or use another --output"
            )
        }
        if size > committed { guard truncate(path, off_t(committed)) == 0 else { throw PrismError("cannot repair \(path)") } }
        guard let h = FileHandle(forWritingAtPath: path) else { throw PrismError("cannot open output \(path) for writing") }
        try h.seekToEnd()
        handle = h
        bytes = committed
    }

    /// Writes the chunk's lines and syncs. A line at a time: joining them first made three copies
    /// of the chunk's output (a chunk of 15 full decompositions of gemma-2b is 300 MB of lines).
    public func append(lines: [String]) throws {
        var written = 0
        let newline = Data("\n".utf8)
        do {
            for line in lines {
                let data = Data(line.utf8)
                try handle.write(contentsOf: data)
                try handle.write(contentsOf: newline)
                written += data.count + 1
            }
            try handle.synchronize()
        } catch {
            // Cut off what part of the chunk got written (a torn line on a full disk): the
            // file keeps exactly its committed lines, and a rerun resumes from them.
            _ = try? handle.truncate(atOffset: UInt64(bytes))
            throw PrismError("writing \(path) failed: \(describeIOError(error))")
        }
        bytes += written
    }
}

import Foundation
import PrismSupport

/// One line of a batch input file:
/// `{"id": "...", "prompt": "..." | "ids": [...], "targets": [" Paris", ...] | "target_ids": [...],
///   "target_diffs": [[" Paris", " London"], ...], "position": -1}`
public struct BatchRecord: Sendable, Equatable {
    public var id: String
    public var line: Int
    public var prompt: String?
    public var ids: [Int]?
    public var targets: [String]
    public var targetIds: [Int]
    public var targetDiffs: [[String]]
    public var position: Int
}

/// A line that could not be read: it becomes an error record in the output, which carries
/// the line's number (its key: ids are the user's, and a bad line may have none, or one that
/// another line has) and its `"id"` when it has a readable one.
public struct BadLine: Error, Sendable, Equatable {
    public var id: String?
    public var line: Int
    public var error: String
}

public struct BatchInput: Sendable {
    public var entries: [Result<BatchRecord, BadLine>]
    /// XXH64 of the whole input file: a journal refuses to resume over another input.
    public var checksum: String

    public static func read(path: String, checksum: (Data) -> String) throws -> BatchInput {
        var st = stat()
        let exists = stat(path, &st) == 0
        let kind = st.st_mode & S_IFMT
        guard exists, kind == S_IFREG, let data = FileManager.default.contents(atPath: path) else {
            let why =
                !exists
                ? "no such file" : kind == S_IFDIR ? "it is a directory" : kind != S_IFREG ? "not a regular file (a pipe or a device)" : "permission denied"
            throw PrismError("cannot read batch input \(path): \(why)")
        }
        return read(data: data, checksum: checksum)
    }

    /// The records of a whole input file given as bytes (the fuzz targets call this directly).
    public static func read(data: Data, checksum: (Data) -> String) -> BatchInput {
        var entries: [Result<BatchRecord, BadLine>] = []
        var seen: Set<String> = []
        var lineNumber = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = raw.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }
            if trimmed.isEmpty || trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { continue }
            let parsed = parse(Data(raw), line: lineNumber)
            switch parsed {
            case .success(let r):
                if seen.contains(r.id) {
                    entries.append(
                        .failure(
                            BadLine(
                                id: r.id, line: lineNumber,
                                error: "duplicate id '\(r.id)' (first seen earlier in the file)")))
                } else {
                    seen.insert(r.id)
                    entries.append(parsed)
                }
            case .failure(let e):
                entries.append(.failure(e))
            }
        }
        return BatchInput(entries: entries, checksum: checksum(data))
    }

    static func parse(_ data: Data, line: Int) -> Result<BatchRecord, BadLine> {
        func bad(_ id: String?, _ msg: String) -> Result<BatchRecord, BadLine> {
            .failure(BadLine(id: id, line: line, error: msg))
        }
        guard String(validating: data, as: UTF8.self) != nil else { return bad(nil, "line \(line) is not valid UTF-8") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch { return bad(nil, "line \(line) is not a JSON object") }
        guard let obj = parsed as? [String: Any] else { return bad(nil, "line \(line) is not a JSON object") }
        if let key = duplicateKey(data) { return bad(nil, "line \(line) has the key \"\(key)\" twice") }
        let id: String
        switch obj["id"] {
        case let s as String where !s.isEmpty: id = s
        case let n as NSNumber where !isBool(n): id = n.stringValue
        default: return bad(nil, "line \(line) has no \"id\" (a non-empty string or a number)")
        }
        let known: Set<String> = ["id", "prompt", "ids", "targets", "target_ids", "target_diffs", "position"]
        if let unknown = obj.keys.first(where: { !known.contains($0) }) { return bad(id, "unknown key \"\(unknown)\"") }
        let prompt = obj["prompt"] as? String
        let ids = intArray(obj["ids"])
        if obj["prompt"] != nil && prompt == nil { return bad(id, "\"prompt\" must be a string") }
        if obj["ids"] != nil && ids == nil { return bad(id, "\"ids\" must be a list of non-negative integers") }
        if (prompt == nil) == (ids == nil) { return bad(id, "give exactly one of \"prompt\" or \"ids\"") }
        if let prompt, prompt.isEmpty { return bad(id, "empty prompt") }
        if let ids, ids.isEmpty { return bad(id, "empty prompt (\"ids\" is [])") }
        var targets: [String] = []
        if let t = obj["targets"] {
            guard let list = t as? [String] else { return bad(id, "\"targets\" must be a list of strings") }
            targets = list
        }
        var targetIds: [Int] = []
        if let t = obj["target_ids"] {
            guard let list = intArray(t) else { return bad(id, "\"target_ids\" must be a list of non-negative integers") }
            targetIds = list
        }
        var diffs: [[String]] = []
        if let t = obj["target_diffs"] {
            guard let list = t as? [[String]], list.allSatisfy({ $0.count == 2 }) else {
                return bad(id, "\"target_diffs\" must be a list of [\"a\", \"b\"] pairs")
            }
            diffs = list
        }
        if targets.isEmpty && targetIds.isEmpty && diffs.isEmpty { return bad(id, "no targets (\"targets\", \"target_ids\" or \"target_diffs\")") }
        var position = -1
        if let p = obj["position"] {
            guard let n = p as? NSNumber, !isBool(n), n.doubleValue == n.doubleValue.rounded(), n.doubleValue.magnitude < 1e12 else {
                return bad(id, "\"position\" must be an integer")
            }
            position = n.intValue
        }
        return .success(
            BatchRecord(
                id: id, line: line, prompt: prompt, ids: ids, targets: targets, targetIds: targetIds,
                targetDiffs: diffs, position: position))
    }

    /// The first key that appears twice at the top level of a JSON object already known to be
    /// valid (Foundation's reader keeps the last silently, so `{"id": "a", "id": "b"}` would pass).
    static func duplicateKey(_ data: Data) -> String? {
        let bytes = [UInt8](data)
        var keys: Set<String> = []
        var depth = 0, i = 0
        var expectKey = false
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectKey = c == UInt8(ascii: "{") && depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): expectKey = depth == 1
            case UInt8(ascii: "\""):
                // A string: to its closing quote, skipping escapes.
                let start = i + 1
                i += 1
                while i < bytes.count && bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
                if expectKey {
                    // Compared decoded, named as spelled (an escaped newline stays one line).
                    let raw = bytes[start..<min(i, bytes.count)]
                    if !keys.insert(keyText(raw)).inserted { return String(decoding: raw, as: UTF8.self) }
                    expectKey = false
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// A key as JSON readers see it, escapes decoded, so that `"i\u0064"` and `"id"` are one key.
    static func keyText(_ raw: ArraySlice<UInt8>) -> String {
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        let quoted = Data([UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")])
        // The line already parsed as JSON, so this cannot fail; if it did, the raw spelling is
        // still a key (only an escaped duplicate would then go unnoticed).
        do {
            if let s = try JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed) as? String { return s }
        } catch {}
        return String(decoding: raw, as: UTF8.self)
    }

    static func intArray(_ any: Any?) -> [Int]? {
        guard let list = any as? [Any] else { return nil }
        var out: [Int] = []
        for v in list {
            guard let n = v as? NSNumber, !isBool(n), n.doubleValue == n.doubleValue.rounded(), n.doubleValue >= 0, n.doubleValue < 1e12 else { return nil }
            out.append(n.intValue)
        }
        return out
    }

    static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" && (n == NSNumber(value: true) || n == NSNumber(value: false)) }
}

/// Which records a shard takes: record k (in file order, counting every non-blank line) goes
/// to shard k mod N. Deterministic, so N shards merged hold every record exactly once.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else { throw PrismError("shard \(index)/\(count) is invalid: need 0 <= I < N") }
        self.index = index
        self.count = count
    }

    private init(whole: Void) {
        index = 0
        count = 1
    }

    /// Every record.
    public static let all = Shard(whole: ())

    /// `I/N`.
    public static func parse(_ text: String) throws -> Shard {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { throw PrismError("--shard takes I/N, e.g. 0/4 (got '\(text)')") }
        return try Shard(index: i, count: n)
    }

    /// From the scheduler's environment when --shard is not given: Slurm job arrays
    /// (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or Kubernetes Indexed Jobs
    /// (JOB_COMPLETION_INDEX, with the count from --shards).
    public static func fromEnvironment(_ env: [String: String], shards: Int?) throws -> Shard? {
        // A variable that is set but not a number would otherwise be ignored, and every task run
        // every record.
        for name in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX"] {
            if let v = env[name], Int(v) == nil { throw PrismError("\(name)=\(v) is not a whole number") }
        }
        if let shards, shards < 1 { throw PrismError("--shards must be at least 1") }
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) {
            let min = env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
            guard let count = shards ?? env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) else {
                throw PrismError("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT; pass --shards N")
            }
            return try Shard(index: id - min, count: count)
        }
        if let id = env["JOB_COMPLETION_INDEX"].flatMap(Int.init) {
            guard let count = shards else { throw PrismError("JOB_COMPLETION_INDEX is set; pass --shards N (the Job's completions)") }
            return try Shard(index: id, count: count)
        }
        if let shards, shards > 1 {
            throw PrismError(
                "--shards \(shards) needs this task's index: set JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm), or pass --shard I/\(shards)")
        }
        return nil
    }

    public func takes(_ k: Int) -> Bool { k % count == index }
    public var description: String { "\(index)/\(count)" }
}

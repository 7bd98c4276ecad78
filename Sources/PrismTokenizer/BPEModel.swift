/// Hugging Face's BPE model (tokenizers/src/models/bpe), restricted to what Gemma uses:
/// no dropout, no continuing-subword prefix or end-of-word suffix.
struct BPEModel {
    let vocab: PieceTable
    /// id -> index of its entry in `vocab`, or -1.
    let entryOfId: [Int32]
    /// (left id, right id) -> rank << 32 | merged id.
    let merges: PairTable
    /// Ids of vocabulary entries that are one scalar below U+10000, indexed by scalar (-1 if
    /// none): seeding a word then costs one array read per scalar instead of a hash lookup.
    let bmpScalarIds: [Int32]
    /// Ids of the byte-fallback tokens `<0x00>`..`<0xFF>` (-1 where missing).
    let byteIds: [Int32]
    /// Every (scalar, next scalar) that occurs inside some vocabulary entry; see `seed`.
    let scalarPairs: PairTable
    /// The same for two ASCII scalars, indexed by first << 7 | second (most text).
    let asciiPairs: [Bool]
    let unkId: Int32?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool

    init(vocab: PieceTable, entryOfId: [Int32], merges: PairTable, unkId: Int32?, fuseUnk: Bool, byteFallback: Bool, ignoreMerges: Bool) {
        self.vocab = vocab
        self.entryOfId = entryOfId
        self.merges = merges
        self.unkId = unkId
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        var bmp = [Int32](repeating: -1, count: 0x10000)
        vocab.bytes.withUnsafeBufferPointer { all in
            for e in 0..<vocab.count {
                let s = vocab.starts[e], n = vocab.starts[e + 1] - s
                guard n > 0, n <= 3, utf8LeadLength(all[s]) == n else { continue }
                var v = UInt32(all[s])
                switch n {
                case 2: v = (v & 0x1F) << 6 | UInt32(all[s + 1] & 0x3F)
                case 3: v = (v & 0x0F) << 12 | UInt32(all[s + 1] & 0x3F) << 6 | UInt32(all[s + 2] & 0x3F)
                default: break
                }
                bmp[Int(v)] = vocab.ids[e]
            }
        }
        bmpScalarIds = bmp
        scalarPairs = BPEModel.adjacentScalars(vocab)
        asciiPairs = (0..<(128 * 128)).map { [scalarPairs] k in
            scalarPairs.find(PairTable.key(UInt32(k >> 7), UInt32(k & 127))) != PairTable.absent
        }
        var bytes = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { bytes[b] = vocab.lookup(Array(byteTokenName(UInt8(b)).utf8)) }
        byteIds = bytes
    }

    private static func adjacentScalars(_ vocab: PieceTable) -> PairTable {
        var pairs = PairTable(expected: 1 << 16)
        vocab.bytes.withUnsafeBufferPointer { all in
            for e in 0..<vocab.count {
                var previous = noScalar
                var i = vocab.starts[e]
                let end = vocab.starts[e + 1]
                while i < end {
                    let len = min(utf8LeadLength(all[i]), end - i)
                    var v = len == 1 ? UInt32(all[i]) : UInt32(all[i]) & (0x7F >> len)
                    for k in 1..<max(len, 1) { v = v << 6 | UInt32(all[i + k] & 0x3F) }
                    if previous != noScalar { pairs.insert(PairTable.key(previous, v), 0) }
                    previous = v
                    i += len
                }
            }
        }
        return pairs
    }

    /// Appends the ids of one word (a piece of normalized text between added tokens; with no
    /// pre-tokenizer that is the whole piece). `word` is valid UTF-8.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        guard let p = word.baseAddress, word.count > 0 else { return }
        if ignoreMerges {
            let id = vocab.lookup(p, word.count)
            if id >= 0 {
                out.append(Int(id))
                return
            }
        }
        var (ids, cuts) = seed(p, word.count)
        cuts.append(ids.count)
        let scratch = MergeScratch()
        ids.withUnsafeMutableBufferPointer { all in
            var start = 0
            for end in cuts {
                mergeAll(UnsafeMutableBufferPointer(rebasing: all[start..<end]), scratch)
                start = end
            }
        }
        for id in ids where id != removed { out.append(Int(id)) }
    }

    /// One symbol per scalar (HF walks `char_indices`), byte tokens for scalars missing from the
    /// vocabulary, else `<unk>`. Mirrors `BPE::merge_word`, including its quirk that a pending
    /// `<unk>` is emitted only at the next in-vocabulary scalar or at the end, so byte tokens
    /// added in between come before it.
    ///
    /// Also returns `cuts`: symbol indices where no merge can ever join the symbol to its left
    /// neighbour, because no vocabulary entry contains those two scalars side by side. Merging
    /// the pieces between cuts separately gives exactly the result of merging the whole word
    /// (the global (rank, position) order restricted to one piece is that piece's own order),
    /// with small heaps instead of one the size of the text.
    private func seed(_ p: UnsafePointer<UInt8>, _ n: Int) -> (ids: [UInt32], cuts: [Int]) {
        var ids: [UInt32] = []
        ids.reserveCapacity(n)
        var cuts: [Int] = []
        var pendingUnk = false
        var previousScalar = noScalar  // of the last symbol, if it is an in-vocabulary scalar
        var i = 0
        while i < n {
            let b0 = p[i]
            let len = min(utf8LeadLength(b0), n - i)
            var scalar: UInt32
            switch len {
            case 1: scalar = UInt32(b0)
            case 2: scalar = UInt32(b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F)
            case 3: scalar = UInt32(b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F)
            default:
                scalar = UInt32(b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                if len > 3 { scalar |= UInt32(p[i + 3] & 0x3F) }
            }
            let id = len < 4 ? bmpScalarIds[Int(scalar)] : vocab.lookup(p + i, len)
            if id >= 0 {
                if pendingUnk, let unkId {
                    ids.append(UInt32(unkId))
                    pendingUnk = false
                    previousScalar = noScalar
                }
                if previousScalar != noScalar {
                    let joinable =
                        previousScalar < 128 && scalar < 128
                        ? asciiPairs[Int(previousScalar << 7 | scalar)]
                        : scalarPairs.find(PairTable.key(previousScalar, scalar)) != PairTable.absent
                    if !joinable { cuts.append(ids.count) }
                }
                ids.append(UInt32(id))
                previousScalar = scalar
            } else if byteFallback, (0..<len).allSatisfy({ byteIds[Int(p[i + $0])] >= 0 }) {
                for k in 0..<len { ids.append(UInt32(byteIds[Int(p[i + k])])) }
                previousScalar = noScalar
            } else if let unkId {
                // Fused: a run of unknown scalars is one <unk>; unfused: one per scalar.
                if pendingUnk && !fuseUnk { ids.append(UInt32(unkId)) }
                pendingUnk = true
                previousScalar = noScalar
            }
            i += len
        }
        if pendingUnk, let unkId { ids.append(UInt32(unkId)) }
        return (ids, cuts)
    }

    /// HF's `Word::merge_all` on one piece: a min-heap of candidate merges ordered by (rank,
    /// position), a linked list of symbols, entries checked for staleness when popped.
    /// Merged-away symbols are marked `removed`.
    private func mergeAll(_ ids: UnsafeMutableBufferPointer<UInt32>, _ s: MergeScratch) {
        let n = ids.count
        guard n > 1 else { return }
        s.reserve(symbols: n)
        let prev = s.prev, next = s.next
        for k in 0..<n {
            prev[k] = k - 1
            next[k] = k + 1 < n ? k + 1 : -1
        }
        var heap = MergeHeap(storage: s.heap)
        for k in 0..<(n - 1) {
            let m = merges.find(PairTable.key(ids[k], ids[k + 1]))
            if m != PairTable.absent { heap.append(MergeHeap.Entry(m, pos: k, ids[k], ids[k + 1])) }
        }
        heap.heapify()
        while let top = heap.pop() {
            let p = top.pos
            guard ids[p] != removed else { continue }
            let q = next[p]
            guard q >= 0 else { continue }
            // Stale entry: the pair at p is no longer the one that was queued. HF looks the
            // current pair up and compares merged ids; comparing the pair's ids is equivalent
            // (a symbol only grows, so equal ids at p and after it mean the same two symbols,
            // and distinct pairs never share a merged string) and saves a lookup.
            guard ids[p] == top.left, ids[q] == top.right else { continue }
            ids[p] = top.newId
            ids[q] = removed
            let r = next[q]
            next[p] = r
            if r >= 0 { prev[r] = p }
            let l = prev[p]
            if l >= 0 {
                let m = merges.find(PairTable.key(ids[l], ids[p]))
                if m != PairTable.absent { heap.push(MergeHeap.Entry(m, pos: l, ids[l], ids[p])) }
            }
            if r >= 0 {
                let m = merges.find(PairTable.key(ids[p], ids[r]))
                if m != PairTable.absent { heap.push(MergeHeap.Entry(m, pos: p, ids[p], ids[r])) }
            }
        }
    }
}

/// Buffers reused across the pieces of one word, sized for the largest piece. The heap never
/// holds more than 2n entries: n - 1 at first, then each merge pops one and pushes at most two,
/// and there are fewer than n merges.
final class MergeScratch {
    private(set) var prev = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    private(set) var next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    private(set) var heap = UnsafeMutablePointer<MergeHeap.Entry>.allocate(capacity: 2)
    private var capacity = 1

    func reserve(symbols n: Int) {
        guard n > capacity else { return }
        prev.deallocate()
        next.deallocate()
        heap.deallocate()
        capacity = n
        prev = .allocate(capacity: n)
        next = .allocate(capacity: n)
        heap = .allocate(capacity: 2 * n)
    }

    deinit {
        prev.deallocate()
        next.deallocate()
        heap.deallocate()
    }
}

/// No scalar: the symbol is a byte token or <unk>, whose neighbours are never cut from it.
private let noScalar = UInt32.max

/// Marks a symbol merged into its left neighbour (ids are below 2^24).
private let removed = UInt32.max

func byteTokenName(_ b: UInt8) -> String {
    let hex = Array("0123456789ABCDEF")
    return "<0x\(hex[Int(b >> 4)])\(hex[Int(b & 15)])>"
}

/// A 4-ary min-heap of candidate merges ordered by (rank, pos), as HF's QuaternaryHeap of
/// `Merge` (lowest rank first, leftmost on ties), in storage the caller sized (`MergeScratch`).
struct MergeHeap {
    struct Entry {
        var rank: UInt32
        var newId: UInt32
        var pos: Int
        /// The pair's ids when queued, to recognise a stale entry.
        var left: UInt32
        var right: UInt32
        /// From a `PairTable` value (rank << 32 | new id).
        @inline(__always) init(_ merge: UInt64, pos: Int, _ left: UInt32, _ right: UInt32) {
            rank = UInt32(truncatingIfNeeded: merge >> 32)
            newId = UInt32(truncatingIfNeeded: merge)
            self.pos = pos
            self.left = left
            self.right = right
        }
        @inline(__always) func before(_ o: Entry) -> Bool { rank != o.rank ? rank < o.rank : pos < o.pos }
    }

    let items: UnsafeMutablePointer<Entry>
    private(set) var count = 0

    init(storage: UnsafeMutablePointer<Entry>) { items = storage }

    /// Adds without ordering; call `heapify` before the first `pop`.
    @inline(__always) mutating func append(_ e: Entry) {
        items[count] = e
        count += 1
    }

    mutating func heapify() {
        guard count > 1 else { return }
        var i = (count - 2) / 4
        while i >= 0 {
            siftDown(i)
            i -= 1
        }
    }

    @inline(__always) mutating func push(_ e: Entry) {
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) / 4
            guard e.before(items[parent]) else { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = e
    }

    @inline(__always) mutating func pop() -> Entry? {
        guard count > 0 else { return nil }
        count -= 1
        let top = items[0]
        if count > 0 {
            items[0] = items[count]
            siftDown(0)
        }
        return top
    }

    private func siftDown(_ start: Int) {
        let n = count
        let e = items[start]
        var i = start
        while true {
            let first = 4 * i + 1
            guard first < n else { break }
            var best = first
            let end = min(first + 4, n)
            var c = first + 1
            while c < end {
                if items[c].before(items[best]) { best = c }
                c += 1
            }
            guard items[best].before(e) else { break }
            items[i] = items[best]
            i = best
        }
        items[i] = e
    }
}

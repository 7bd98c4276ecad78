/// Finds added tokens in text the way HF's AddedVocabulary does (an Aho-Corasick automaton in
/// LeftmostLongest mode): the leftmost position where some token starts, the longest token
/// there, then on from its end. A byte trie walked from each candidate position gives the same
/// answer in O(text length x longest token), never rescanning the text.
struct AddedTokenMatcher {
    /// (node << 8 | byte) -> child node.
    private var edges = PairTable(expected: 16)
    /// Token id ending at each node, or -1. Node 0 is the root.
    private var terminal: [Int32] = [-1]
    /// Bytes that begin some token: the scan skips every other position at once.
    private var starts = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { terminal.count == 1 }

    init(_ tokens: [(pattern: [UInt8], id: Int)]) {
        let totalBytes = tokens.reduce(0) { $0 + $1.pattern.count }
        edges = PairTable(expected: totalBytes + 1)
        for (pattern, id) in tokens where !pattern.isEmpty {
            var node = 0
            for b in pattern {
                let key = UInt64(node) << 8 | UInt64(b)
                let child = edges.find(key)
                if child == PairTable.absent {
                    terminal.append(-1)
                    let new = terminal.count - 1
                    edges.insert(key, UInt64(new))
                    node = new
                } else {
                    node = Int(child)
                }
            }
            terminal[node] = Int32(id)
            starts[Int(pattern[0])] = true
        }
    }

    /// Splits `text[range]` into pieces, in order: `body(range, id)` for an added token,
    /// `body(range, nil)` for the text between them. Empty pieces are not reported.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ body: (Range<Int>, Int?) -> Void) {
        guard !isEmpty else {
            if !range.isEmpty { body(range, nil) }
            return
        }
        var plainStart = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            guard starts[Int(text[i])] else {
                i += 1
                continue
            }
            var node = 0
            var j = i
            var matchEnd = -1
            var matchId: Int32 = -1
            while j < range.upperBound {
                let child = edges.find(UInt64(node) << 8 | UInt64(text[j]))
                if child == PairTable.absent { break }
                node = Int(child)
                j += 1
                if terminal[node] >= 0 {
                    matchEnd = j
                    matchId = terminal[node]
                }
            }
            if matchEnd < 0 {
                i += 1
                continue
            }
            if plainStart < i { body(plainStart..<i, nil) }
            body(i..<matchEnd, Int(matchId))
            i = matchEnd
            plainStart = matchEnd
        }
        if plainStart < range.upperBound { body(plainStart..<range.upperBound, nil) }
    }
}

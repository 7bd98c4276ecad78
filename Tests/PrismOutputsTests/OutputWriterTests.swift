import Foundation
import PrismFormats
import PrismOutputs
import PrismSession
import PrismSupport
import Prisms
import XCTest

/// The commands' writers, without the CLI: each output is checked against the decomposition
/// (or lens, or path) it was written from, on the shipped tiny model.
final class OutputWriterTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-gemma.prism").path

    /// A decomposition of " Paris" and " Paris" - " London" after "The capital of France is".
    func decomposition() throws -> (session: PrismSession, d: Decomposition, ids: [Int]) {
        let session = try PrismSession(path: Self.shipped)
        let ids = try session.tokens(text: "The capital of France is", ids: nil)
        let targets = try session.targets(ids: [], tokens: [" Paris"], diffs: [(" Paris", " London")], style: .quoted)
        let (source, _) = try session.record(ids, lastPositionOnly: true)
        let d = try Prism(model: session.model).decompose(source, position: ids.count - 1, targets: targets)
        return (session, d, ids)
    }

    /// A CSV text's records: split at line breaks outside quotes (a token's text may hold one).
    static func records(_ csv: String) -> [String] {
        var out: [String] = [], current = "", quoted = false
        for c in csv.unicodeScalars {
            if c == "\"" { quoted.toggle() }
            if c == "\n" && !quoted {
                out.append(current)
                current = ""
            } else {
                current.unicodeScalars.append(c)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    // MARK: The decomposition's table

    func testTableStatesEachTargetsLogitAndListsItsTerms() throws {
        let (session, d, ids) = try decomposition()
        let pieces = try XCTUnwrap(try session.texts(ids))
        let top = 3
        let text = DecompositionTable.string(d, pieces: pieces, top: top, route: "a route")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "position \(d.position) \(Display.quote(pieces[d.position])) of \(ids.count) tokens")
        XCTAssertEqual(lines[1], "route: a route")
        XCTAssertEqual(lines[2], "frozen: " + d.frozen.joined(separator: "; "))
        for t in d.targets {
            let head = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("target \(t.target.label): ") }, t.target.label)
            XCTAssertTrue(lines[head].contains("logit \(DecompositionTable.fmt(t.logit)) = sum \(DecompositionTable.fmt(t.sum))"), lines[head])
            // The residual prism: every term, in order, each on its own line.
            XCTAssertEqual(lines[head + 1], "  residual prism:")
            for (k, (name, v)) in t.residualTerms.enumerated() {
                XCTAssertEqual(lines[head + 2 + k], "    \(DecompositionTable.pad(name, 18)) \(DecompositionTable.fmt(v))")
            }
            // Then `top` heads, the largest first.
            let heads = head + 2 + t.residualTerms.count
            XCTAssertEqual(lines[heads], "  top heads:")
            let ranked = Ranking.heads(t, top: top)
            XCTAssertEqual(ranked.count, min(top, t.heads.count * (t.heads.first?.count ?? 0)))
            for (k, e) in ranked.enumerated() {
                XCTAssertEqual(
                    lines[heads + 1 + k], "    \(DecompositionTable.pad(ComponentName.head(e.layer, e.head), 18)) \(DecompositionTable.fmt(e.value))")
            }
        }
        // Writing to a stream gives the same text as the string.
        var streamed = ""
        DecompositionTable.write(d, pieces: pieces, top: top, route: "a route", to: &streamed)
        XCTAssertEqual(streamed, text)
    }

    func testTableWithoutPiecesNamesTokensById() throws {
        let (_, d, _) = try decomposition()
        let first = DecompositionTable.string(d, pieces: nil, top: 1).split(separator: "\n").first
        XCTAssertEqual(first.map(String.init), "position \(d.position) #\(d.ids[d.position]) of \(d.ids.count) tokens")
    }

    func testPadAndFormat() {
        XCTAssertEqual(DecompositionTable.pad("ab", 4), "ab  ")
        XCTAssertEqual(DecompositionTable.pad("abcdef", 4), "abcdef")
        XCTAssertEqual(DecompositionTable.fmt(1.5), "   +1.5000")
        XCTAssertEqual(DecompositionTable.fmt(-0.25), "   -0.2500")
    }

    // MARK: CSV

    func testCSVFilesHoldEveryTermOnceAndAddUpToTheTotals() throws {
        let (session, d, _) = try decomposition()
        let c = try DecompositionFiles.Context(session: session, d: d, stored: false)
        let files = try DecompositionFiles.csvFiles(d, c)
        XCTAssertEqual(files.map(\.name), ["terms.csv", "heads.csv", "head_sources.csv", "neurons.csv", "totals.csv", "targets.json"])
        let byName = Dictionary(uniqueKeysWithValues: files.map { ($0.name, String(decoding: $0.bytes, as: UTF8.self)) })
        let terms = Self.records(try XCTUnwrap(byName["terms.csv"]))
        XCTAssertEqual(terms[0], "target_index,target_id,target_label,component,kind,layer,value")
        let L = session.model.config.numHiddenLayers
        XCTAssertEqual(terms.count, 1 + d.targets.count * (1 + 2 * L))
        // The first target is " Paris" (id, text with its leading space quoted); the second a difference without an id.
        let paris = d.targets[0].target.ids[0]
        XCTAssertEqual(terms[1], "0,\(paris),\" Paris\",embed,embed,,\(CSVText.number(d.targets[0].embed))")
        XCTAssertTrue(terms[1 + 1 + 2 * L].hasPrefix("1,,\" Paris -  London\",embed,embed,,"), terms[1 + 1 + 2 * L])
        // Per target, the terms' values add up to the sum in totals.csv.
        var sums = [Double](repeating: 0, count: d.targets.count)
        for row in terms.dropFirst() {
            let k = try XCTUnwrap(Int(row.prefix { $0 != "," }))
            sums[k] += try XCTUnwrap(Double(try XCTUnwrap(row.split(separator: ",").last)))
        }
        for (k, t) in d.targets.enumerated() { XCTAssertEqual(sums[k], t.sum, accuracy: 1e-9 * max(1, abs(t.sum))) }
        let totals = Self.records(try XCTUnwrap(byName["totals.csv"]))
        XCTAssertEqual(totals.count, 1 + d.targets.count)
        XCTAssertTrue(
            totals[1].hasSuffix(
                ",\(CSVText.number(d.targets[0].logit)),\(CSVText.number(d.targets[0].sum)),"
                    + "\(CSVText.number(d.targets[0].error)),\(CSVText.number(d.targets[0].finerClosure)),,,"), String(totals[1]))
        // One row per target, layer, head and source position.
        let H = d.targets[0].heads[0].count, P = d.position + 1
        XCTAssertEqual(Self.records(try XCTUnwrap(byName["head_sources.csv"])).count, 1 + d.targets.count * L * H * P)
    }

    func testCSVFieldsAreQuotedOnlyWhenTheyMustBe() {
        XCTAssertEqual(CSVText.field("Paris"), "Paris")
        XCTAssertEqual(CSVText.field(" Paris"), "\" Paris\"")
        XCTAssertEqual(CSVText.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVText.field("say \"x\""), "\"say \"\"x\"\"\"")
        XCTAssertEqual(CSVText.field("a\r\nb"), "\"a\r\nb\"")
        XCTAssertEqual(CSVText.row(["1", "x,y"]), "1,\"x,y\"\n")
        XCTAssertEqual(CSVText.number(2), "2")
        XCTAssertEqual(CSVText.number(-0.5), "-0.5")
        XCTAssertEqual(CSVText.number(.nan), "nan")
        XCTAssertEqual(CSVText.number(-.infinity), "-inf")
    }

    func testLabelsWriteDifferencesWithTheirSigns() throws {
        let session = try PrismSession(path: Self.shipped)
        let t = try session.targets(ids: [], tokens: [], diffs: [(" Paris", " London")], style: .quoted)[0]
        XCTAssertEqual(TokenText.label(t, { $0 == t.ids[0] ? "A" : "B" }), "A - B")
    }

    // MARK: NPY

    /// The header a `.npy` of `descr` and `shape` must start with (format 1.0, padded to 64 bytes).
    func checkNPY(_ bytes: [UInt8], descr: String, shape: [Int], file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        XCTAssertEqual(Array(bytes.prefix(8)), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0], file: file, line: line)
        let n = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + n) % 64, 0, "header not padded to 64 bytes", file: file, line: line)
        let header = String(decoding: bytes[10..<(10 + n)], as: UTF8.self)
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        XCTAssertTrue(header.hasPrefix("{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"), header, file: file, line: line)
        XCTAssertTrue(header.hasSuffix("\n"), file: file, line: line)
        let data = Array(bytes[(10 + n)...])
        XCTAssertEqual(data.count, shape.reduce(1, *) * 8, file: file, line: line)
        return data
    }

    func testNPYFilesHaveTheDocumentedShapesAndValues() throws {
        let (session, d, ids) = try decomposition()
        let c = try DecompositionFiles.Context(session: session, d: d, stored: false)
        let files = try DecompositionFiles.npyFiles(d, c)
        XCTAssertEqual(
            files.map(\.name), ["terms.npy", "heads.npy", "head_sources.npy", "neurons.npy", "logits.npy", "ids.npy", "targets.json"])
        let byName = Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.bytes) })
        let K = d.targets.count, L = session.model.config.numHiddenLayers
        let terms = try checkNPY(try XCTUnwrap(byName["terms.npy"]), descr: "<f8", shape: [K, 1 + 2 * L])
        let values = terms.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        XCTAssertEqual(values, d.targets.flatMap { $0.residualTerms.map(\.value) })
        let logits = try checkNPY(try XCTUnwrap(byName["logits.npy"]), descr: "<f8", shape: [K])
        XCTAssertEqual(logits.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }, d.targets.map(\.logit))
        let idBytes = try checkNPY(try XCTUnwrap(byName["ids.npy"]), descr: "<i8", shape: [ids.count])
        XCTAssertEqual(idBytes.withUnsafeBytes { $0.bindMemory(to: Int64.self).map { Int(Int64(littleEndian: $0)) } }, ids)
        let H = d.targets[0].heads[0].count
        _ = try checkNPY(try XCTUnwrap(byName["head_sources.npy"]), descr: "<f8", shape: [K, L, H, d.position + 1])
        // targets.json names the arrays' shapes and the targets in the arrays' order.
        let meta = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(byName["targets.json"]))) as? [String: Any])
        XCTAssertEqual((meta["arrays"] as? [String: [Int]])?["terms.npy"], [K, 1 + 2 * L])
        XCTAssertEqual((meta["targets"] as? [[String: Any]])?.map { $0["label"] as? String }, [" Paris", " Paris -  London"])
        XCTAssertEqual(meta["route"] as? String, c.route)
    }

    func testAFileSetIsWrittenWhole() throws {
        let (session, d, _) = try decomposition()
        let c = try DecompositionFiles.Context(session: session, d: d, stored: false)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prism-outputs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try DecompositionFiles.writeCSV(d, c, dir: dir, force: false, inputs: [])
        let expected = try DecompositionFiles.csvFiles(d, c)
        for f in expected {
            XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f.name))), f.bytes, f.name)
        }
    }

    // MARK: Lens, paths, logits, faithfulness

    func testLensOutputsAgreeWithTheReading() throws {
        let session = try PrismSession(path: Self.shipped)
        let ids = try session.tokens(text: "The capital of France is", ids: nil)
        let targets = try session.targets(ids: [], tokens: [" Paris"], diffs: [], style: .quoted)
        let (source, _) = try session.record(ids, lastPositionOnly: false)
        let positions = [ids.count - 2, ids.count - 1]
        let top = 2
        let lens = try LogitLens(prism: Prism(model: session.model)).run(source, positions: positions, targets: targets, mode: .own, top: top)
        let out = try LensOutput(session: session, ids: ids, positions: positions, targets: targets, lens: lens, norm: .own, preSoftcap: false, stored: false)
        let points = 1 + 2 * session.model.config.numHiddenLayers
        // CSV: a header, then per position and point one row per target and per top token.
        let rows = Self.records(out.csv())
        XCTAssertEqual(rows.count, 1 + positions.count * points * (targets.count + top))
        XCTAssertTrue(rows[0].hasPrefix("position,position_token_id,position_token,point_index,point,after,role"))
        let pt = lens[1][points - 1]
        let want = "\(ids.count - 1),\(ids.last ?? -1),\(CSVText.field(out.tokenText(ids[ids.count - 1]))),\(points - 1),\(pt.name),\(pt.after),target,0,"
        XCTAssertTrue(rows.contains { $0.hasPrefix(want) }, want)
        // Table: a header line, then per position its own header and one line per point.
        let table = out.table().split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(table[0].hasPrefix("logit lens, norm: each point's own 1/rms; route: "), String(table[0]))
        XCTAssertEqual(table.filter { $0.hasPrefix("position ") }.count, positions.count)
        XCTAssertEqual(table.filter { $0.hasPrefix("blocks.") }.count, positions.count * points)
        // NPY: logits [N, P, K] in the readings' order.
        let files = try out.npyFiles()
        let logits = try checkNPY(try XCTUnwrap(files.first { $0.name == "logits.npy" }).bytes, descr: "<f8", shape: [positions.count, points, 1])
        XCTAssertEqual(logits.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }, lens.flatMap { $0.map { $0.targets[0] } })
        XCTAssertEqual((out.json()["points"] as? [Any])?.count, positions.count * points)
    }

    func testPathsOutputListsEachPieceAndTheSource() throws {
        let session = try PrismSession(path: Self.shipped)
        let ids = try session.tokens(text: "The capital of France is", ids: nil)
        let targets = try session.targets(ids: [], tokens: [" Paris"], diffs: [], style: .quoted)
        let (source, _) = try session.record(ids, lastPositionOnly: false)
        let p = ids.count - 1
        let paths = try Prism(model: session.model).headPath(source, position: p, layer: 1, head: 0, source: 2, targets: targets)
        let out = PathsOutput(
            ids: ids, position: p, paths: paths, frozen: ["f"], appliedTo: ["x"], values: [[0.5]],
            source: .init(position: 2, id: ids[2], token: "tok", attention: 0.25), route: "int8", routeText: "words")
        let lines = out.table().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "through \(paths[0].through) at position \(p); frozen: f")
        XCTAssertEqual(lines[1], "source 2 \(Display.quote("tok")) (id \(ids[2])), attention 0.2500")
        XCTAssertEqual(lines[2], "route: words")
        for (name, v) in zip(paths[0].pieceNames, paths[0].pieces) {
            XCTAssertTrue(lines.contains("  \(DecompositionTable.pad(name, 18)) \(DecompositionTable.fmt(v))"), name)
        }
        XCTAssertEqual(
            lines.suffix(2), ["  the same frozen map applied to scaled embeddings:", "  \(DecompositionTable.pad("x", 18)) \(DecompositionTable.fmt(0.5))"])
        let json = out.json()
        XCTAssertEqual(json["route"] as? String, "int8")
        XCTAssertEqual((json["source"] as? [String: Any])?["attention"] as? Double, 0.25)
        let target = try XCTUnwrap((json["targets"] as? [[String: Any]])?.first)
        XCTAssertEqual(target["piece_order"] as? [String], paths[0].pieceNames)
    }

    func testLogitsTableStatesNaNAndEachTopToken() {
        var s = ""
        LogitsOutput.writeTable(tokens: 3, top: [(id: 7, logit: 1.5), (id: 9, logit: -2)], pieces: ["▁a", nil], nanCount: 4, vocabulary: 10, to: &s)
        XCTAssertEqual(
            s.split(separator: "\n").map(String.init),
            [
                "logits contain NaN at 4 of 10 vocabulary entries at position 2 (NaN weights?); NaN is not ranked",
                "prompt: 3 tokens; top 2 next tokens at position 2:",
                "  1         7       1.50000 \(Display.quote("▁a"))",
                "  2         9      -2.00000",
            ])
        let json = LogitsOutput.json(ids: [1, 2, 3], top: [(id: 7, logit: 1.5)], texts: ["a"], nanCount: 0, logits: nil, route: "exact")
        XCTAssertNil(json["nan_logits"])
        XCTAssertNil(json["logits"])
        XCTAssertEqual((json["top"] as? [[String: Any]])?.first?["token"] as? String, "a")
    }

    func testFaithfulnessTableHasOneLinePerKind() throws {
        let (_, d, _) = try decomposition()
        let rows = Faithfulness.compare(d, against: d)
        var s = ""
        FaithfulnessOutput.writeTable(rows, reference: "ref", targets: d.targets.count, routeText: "r", to: &s)
        let lines = s.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2 + rows.count)
        XCTAssertEqual(lines[0], "faithfulness against ref (f32 activations), over \(d.targets.count) targets; this model's route: r")
        // Against itself: no difference, full overlap.
        for (line, r) in zip(lines.dropFirst(2), rows) {
            XCTAssertTrue(line.hasPrefix(DecompositionTable.pad(r.kind, 28)), line)
            XCTAssertTrue(line.hasSuffix("100%"), line)
        }
        XCTAssertEqual(FaithfulnessOutput.json(rows).map { $0["kind"] as? String }, rows.map(\.kind))
    }
}

import Foundation
import PrismFormats
import PrismModel
import PrismSupport
import XCTest

final class ActivationStoreTests: XCTestCase {
    /// Activations read back from a store equal the in-memory ones bit for bit.
    func testRoundTripIsBitExact() throws {
        let loaded = try LoadedModel.open(Fixtures.path("tiny-bf16"))
        let m = loaded.model
        let ids = try Fixtures.reference("tiny-bf16").sequences[2].ids
        let path = NSTemporaryDirectory() + "acts-\(UUID().uuidString).acts"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let memory = MemoryRecorder()
        _ = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[]], recorder: memory)
        let store = try StoreRecorder(path: path, names: nil, force: false)
        _ = try m.forward([ids], cache: m.makeCache(sequences: 1, capacity: ids.count), logitsAt: [[]], recorder: store)
        try store.finish(model: loaded, ids: ids)

        let back = try StoredActivations(path: path)
        XCTAssertEqual(back.tokenIds, ids)
        XCTAssertNoThrow(try back.check(against: loaded))
        let names = try XCTUnwrap(memory.tensors[0]).keys.sorted()
        XCTAssertEqual(Set(back.reader.names), Set(names))
        for name in names {
            let a = try XCTUnwrap(memory.tensor(name)), b = try back.activation(name)
            XCTAssertEqual(a.shape, b.shape, name)
            XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), name)
        }
        XCTAssertThrowsError(try back.activation("blocks.99.attn.z"))
        XCTAssertThrowsError(try back.check(against: LoadedModel.open(Fixtures.path("tiny-f32"))))
    }

    func testCorruptionAndTruncationAreErrors() throws {
        let loaded = try LoadedModel.open(Fixtures.path("tiny-f32"))
        let (source, _) = try loaded.model.record([2, 10, 20, 30])
        _ = source
        let path = NSTemporaryDirectory() + "acts-\(UUID().uuidString).acts"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try StoreRecorder(path: path, names: PrismActivations.needed(layers: 2), force: false)
        let m = loaded.model
        _ = try m.forward([[2, 10, 20, 30]], cache: m.makeCache(sequences: 1, capacity: 4), logitsAt: [[]], recorder: store)
        try store.finish(model: loaded, ids: [2, 10, 20, 30])
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let broken = path + ".broken"
        defer { try? FileManager.default.removeItem(atPath: broken) }
        for pos in stride(from: 0, to: original.count, by: max(1, original.count / 150)) {
            var b = original
            b[pos] ^= 0x21
            try Data(b).write(to: URL(fileURLWithPath: broken))
            do {
                let s = try StoredActivations(path: broken)
                var caught = false
                for name in s.reader.names {
                    do { _ = try s.activation(name) } catch { caught = true }
                }
                XCTAssertTrue(caught, "flip at \(pos) not detected")
            } catch is PrismError {}
        }
        for n in [0, 10, 64, original.count / 2, original.count - 1] {
            try Data(original.prefix(n)).write(to: URL(fileURLWithPath: broken))
            XCTAssertThrowsError(try StoredActivations(path: broken))
        }
    }
}

/// Keys and values of every position run so far, per sequence and layer, so that later
/// tokens (generation) attend to earlier ones without recomputing them.
public final class KVCache {
    public let layers: Int
    public let width: Int  // kvH * hd
    public let capacity: Int  // positions per sequence
    public private(set) var lengths: [Int]
    /// [sequence][layer] -> [capacity * width]
    var keys: [[[Float]]]
    var values: [[[Float]]]

    public init(sequences: Int, layers: Int, width: Int, capacity: Int) {
        self.layers = layers
        self.width = width
        self.capacity = capacity
        lengths = Array(repeating: 0, count: sequences)
        let empty = Array(repeating: [Float](repeating: 0, count: capacity * width), count: layers)
        keys = Array(repeating: empty, count: sequences)
        values = keys
    }

    public var sequences: Int { lengths.count }

    /// Bytes held: what the memory planner charges for the cache.
    public static func bytes(sequences: Int, layers: Int, width: Int, capacity: Int) -> Int {
        sequences * layers * 2 * width * capacity * MemoryLayout<Float>.size
    }

    func advance(_ s: Int, by n: Int) { lengths[s] += n }
}

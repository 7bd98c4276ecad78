// Nice axis ticks (1-2-5 steps) and the linear map from data to pixels.

import Foundation

/// Tick positions on one axis, with the data interval the axis spans.
struct Ticks: Equatable {
    var lo: Double
    var hi: Double
    var step: Double
    var values: [Double]

    /// Ticks at multiples of a nice step; the axis grows to the outermost ticks so the data
    /// is framed by labelled values. `target` is roughly how many intervals are wanted.
    static func covering(_ min: Double, _ max: Double, target: Int) -> Ticks {
        let (a, b) = widened(min, max)
        let step = niceStep((b - a) / Double(Swift.max(target, 1)))
        let kLo = floor(a / step + 1e-9)
        let kHi = ceil(b / step - 1e-9)
        guard kHi - kLo <= 60, kHi >= kLo else { return Ticks(lo: a, hi: b, step: b - a, values: [a, b]) }
        let values = stride(from: kLo, through: kHi, by: 1).map { clean($0 * step, step) }
        return Ticks(lo: kLo * step, hi: kHi * step, step: step, values: values)
    }

    /// Ticks at multiples of a nice step that lie inside a fixed interval (scatter plots with
    /// an equal aspect ratio and colour bars cannot stretch their interval to tick values).
    static func inside(_ min: Double, _ max: Double, target: Int) -> Ticks {
        let (a, b) = widened(min, max)
        var step = niceStep((b - a) / Double(Swift.max(target, 1)))
        // The step rounds up and the interval cannot grow: [-15.4, 15.4] with a step of 20 would
        // keep only 0. Take the next smaller nice step (10 -> 5 -> 2 -> 1) until 3 ticks fit.
        for _ in 0..<3 where floor(b / step + 1e-9) - ceil(a / step - 1e-9) < 2 {
            step = smallerStep(step)
        }
        let kLo = ceil(a / step - 1e-9)
        let kHi = floor(b / step + 1e-9)
        guard kHi - kLo <= 60, kHi >= kLo else { return Ticks(lo: a, hi: b, step: b - a, values: [a, b]) }
        let values = stride(from: kLo, through: kHi, by: 1).map { clean($0 * step, step) }
        return Ticks(lo: a, hi: b, step: step, values: values)
    }

    /// Labels for `values`, formatted consistently across the axis.
    var labels: [String] {
        let magnitude = Swift.max(abs(lo), abs(hi))
        return values.map { PlotFormat.tick($0, step: step, magnitude: magnitude) }
    }

    /// A usable, non-empty interval: missing data gives [0, 1], a single value is padded.
    static func widened(_ min: Double, _ max: Double) -> (Double, Double) {
        guard min.isFinite, max.isFinite else { return (0, 1) }
        var a = Swift.min(min, max), b = Swift.max(min, max)
        if b - a <= abs(b) * 1e-12 {
            let pad = a == 0 ? 1 : abs(a) * 0.1
            a -= pad
            b += pad
        }
        return (a, b)
    }

    /// The 1, 2 or 5 times a power of ten that is at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0, rough.isFinite else { return 1 }
        let mag = pow(10, floor(log10(rough)))
        let r = rough / mag
        let m: Double = r <= 1 + 1e-9 ? 1 : r <= 2 + 1e-9 ? 2 : r <= 5 + 1e-9 ? 5 : 10
        return m * mag
    }

    /// The next nice step below a 1, 2 or 5 times a power of ten: 5 -> 2, 2 -> 1, 1 -> 0.5.
    static func smallerStep(_ step: Double) -> Double {
        let mag = pow(10, floor(log10(step) + 1e-9))
        let m = (step / mag).rounded()
        return m >= 5 ? 2 * mag : m >= 2 ? mag : mag / 2
    }

    /// Rounds away binary noise such as 0.30000000000000004 and turns -0 into 0.
    private static func clean(_ v: Double, _ step: Double) -> Double {
        if abs(v) < step * 1e-9 { return 0 }
        return v
    }

    /// Roughly one tick per `spacing` pixels, between 2 and 10 intervals.
    static func target(length: Double, spacing: Double = 55) -> Int {
        let n = length / spacing
        guard n.isFinite else { return 5 }
        return Swift.min(10, Swift.max(2, Int(Swift.min(Swift.max(n, 0), 100))))
    }
}

/// Maps a data interval onto a pixel interval (which may run backwards, as a y axis does).
struct LinearScale {
    var d0: Double, d1: Double, r0: Double, r1: Double

    func callAsFunction(_ v: Double) -> Double {
        let span = d1 - d0
        guard span != 0 else { return (r0 + r1) / 2 }
        return r0 + (v - d0) / span * (r1 - r0)
    }
}

/// The smallest and largest finite value, or nil when there is none.
func finiteExtent<S: Sequence>(_ values: S) -> (Double, Double)? where S.Element == Double {
    var lo = Double.infinity, hi = -Double.infinity
    for v in values where v.isFinite {
        lo = min(lo, v)
        hi = max(hi, v)
    }
    return lo <= hi ? (lo, hi) : nil
}

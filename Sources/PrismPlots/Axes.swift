// Axes shared by the charts: a numeric y axis with grid, a categorical x axis whose labels
// rotate or thin out when they would collide, titles and axis labels.

/// A rectangle in pixels.
struct Frame {
    var x: Double, y: Double, w: Double, h: Double
    var right: Double { x + w }
    var bottom: Double { y + h }
}

enum Ink {
    static let grid = "#E6E6E6"
    static let spine = "#9A9A9A"
    static let zero = "#555555"
    static let text = "#222222"
    static let muted = "#555555"
}

/// A numeric y axis: its ticks, the map to pixels once placed, and the width of its labels.
struct YAxis {
    var ticks: Ticks
    var labels: [String]
    var labelWidth: Double

    init(ticks: Ticks, style: Style) {
        self.ticks = ticks
        labels = ticks.labels
        labelWidth = labels.map { Text.width($0, fontSize: style.fs) }.max() ?? 0
    }

    /// Ticks for values in [lo, hi], stretched to include zero when asked (bars and signed
    /// contributions read against zero).
    init(extent: (Double, Double)?, includeZero: Bool, length: Double, style: Style) {
        var (lo, hi) = extent ?? (0, 1)
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        self.init(ticks: Ticks.covering(lo, hi, target: Ticks.target(length: length, spacing: 48)), style: style)
    }

    func scale(_ f: Frame) -> LinearScale {
        LinearScale(d0: ticks.lo, d1: ticks.hi, r0: f.bottom, r1: f.y)
    }

    /// Grid lines across the frame and, when `labels` is set, tick labels to its left.
    func drawGrid(_ c: inout Canvas, frame f: Frame, labels showLabels: Bool, style: Style) {
        let s = scale(f)
        for (v, label) in zip(ticks.values, labels) {
            let y = s(v)
            if v != 0 { c.line(f.x, y, f.right, y, stroke: Ink.grid, crisp: true) }
            if showLabels {
                c.text(label, f.x - 6, y + style.fs * 0.35, anchor: .end, fill: Ink.muted)
            }
        }
    }

    /// The zero line, drawn over the data's grid but under the data, when zero is in range.
    func drawZero(_ c: inout Canvas, frame f: Frame) {
        guard ticks.lo <= 0, ticks.hi >= 0 else { return }
        let y = scale(f)(0)
        c.line(f.x, y, f.right, y, stroke: Ink.zero, width: 1, crisp: true)
    }
}

/// Left and bottom spines of a plot frame.
func drawSpines(_ c: inout Canvas, _ f: Frame) {
    c.line(f.x, f.y, f.x, f.bottom, stroke: Ink.spine, crisp: true)
    c.line(f.x, f.bottom, f.right, f.bottom, stroke: Ink.spine, crisp: true)
}

/// How the labels of a categorical axis fit under their bands.
struct CategoryAxis {
    var labels: [String]
    var widths: [Double]
    var rotated: Bool
    /// Only every `every`-th label is written when even rotated labels would overlap.
    var every: Int
    /// Space the labels take below the frame.
    var height: Double
    /// How far rotated labels reach left of the frame's left edge.
    var overhang: Double

    static let tick = 4.0

    init(_ categories: [String], band: Double, style: Style) {
        let fs = style.fs
        labels = categories.map { Text.truncated($0, maxChars: style.maxChars) }
        widths = labels.map { Text.width($0, fontSize: fs) }
        let widest = widths.max() ?? 0
        if widest <= band * 0.92 {
            rotated = false
            every = 1
            height = CategoryAxis.tick + 4 + fs
            overhang = 0
        } else {
            // At 45 degrees neighbouring labels sit band*sin(45) apart across their baselines.
            rotated = true
            let needed = fs * 1.15 / max(band * 0.7071, 0.01)
            every = needed.isFinite ? max(1, Int(min(needed, 1e6).rounded(.up))) : 1
            height = CategoryAxis.tick + 6 + widest * 0.7071 + fs * 0.75
            var reach = 0.0
            for (i, w) in widths.enumerated() where i % every == 0 {
                reach = max(reach, w * 0.7071 - band * (Double(i) + 0.5) - fs * 0.1)
            }
            overhang = reach
        }
    }

    /// Draws tick marks and labels below `y` at the band centres `center(i)`.
    func draw(_ c: inout Canvas, y: Double, center: (Int) -> Double, style: Style) {
        let fs = style.fs
        for (i, label) in labels.enumerated() {
            let x = center(i)
            c.line(x, y, x, y + CategoryAxis.tick, stroke: Ink.spine)
            guard i % every == 0 else { continue }
            if rotated {
                // Anchored at its end and turned 45 degrees, the label's centre line ends
                // just below the tick.
                let ax = x + fs * 0.3, ay = y + CategoryAxis.tick + 3 + fs * 0.45
                c.text(label, ax, ay, anchor: .end, fill: Ink.text, rotate: -45)
            } else {
                c.text(label, x, y + CategoryAxis.tick + 2 + fs * 0.85, anchor: .middle, fill: Ink.text)
            }
        }
    }
}

/// Band centres for `count` categories across a frame.
struct Bands {
    var x0: Double, width: Double, count: Int
    init(_ f: Frame, count: Int) {
        x0 = f.x
        self.count = max(count, 1)
        width = f.w / Double(self.count)
    }
    func center(_ i: Int) -> Double { x0 + width * (Double(i) + 0.5) }
}

/// The chart title centred at the top; returns the space it takes.
@discardableResult
func drawTitle(_ c: inout Canvas, _ title: String, width: Double, style: Style) -> Double {
    guard !title.isEmpty else { return 10 }
    let t = Text.fitted(title, maxWidth: width - 20, fontSize: style.ts)
    c.text(t, width / 2, 10 + style.ts, anchor: .middle, size: style.ts, bold: true, fill: Ink.text, cls: "title")
    return 10 + style.ts + 14
}

/// The width a title needs to be shown in full, margins included.
func titleWidth(_ title: String, style: Style) -> Double {
    title.isEmpty ? 0 : Text.width(Text.label(title), fontSize: style.ts) * 1.06 + 30
}

func titleHeight(_ title: String, style: Style) -> Double {
    title.isEmpty ? 10 : 10 + style.ts + 14
}

/// Space an axis label needs (its line plus a gap), zero when there is none.
func axisLabelSpace(_ label: String, style: Style) -> Double {
    label.isEmpty ? 0 : style.fs * 1.2 + 8
}

/// The y-axis label, rotated, centred on the frame's height, with its top at `x`.
func drawYLabel(_ c: inout Canvas, _ label: String, x: Double, centerY: Double, maxLength: Double, style: Style) {
    guard !label.isEmpty else { return }
    let t = Text.fitted(label, maxWidth: max(maxLength, 40), fontSize: style.fs)
    c.text(t, x + style.fs, centerY, anchor: .middle, fill: Ink.text, rotate: -90, cls: "axis-label")
}

/// The x-axis label centred under the frame, with its top at `y`.
func drawXLabel(_ c: inout Canvas, _ label: String, centerX: Double, y: Double, maxLength: Double, style: Style) {
    guard !label.isEmpty else { return }
    let t = Text.fitted(label, maxWidth: max(maxLength, 40), fontSize: style.fs)
    c.text(t, centerX, y + style.fs, anchor: .middle, fill: Ink.text, cls: "axis-label")
}

/// A grey "no data" note in the middle of an empty frame.
func drawNoData(_ c: inout Canvas, _ f: Frame, style: Style) {
    c.text("no data", f.x + f.w / 2, f.y + f.h / 2, anchor: .middle, fill: "#888888", cls: "no-data")
}

/// The frame of a chart over categories with a legend column on the right: room for the y
/// axis and its label, the category labels (rotated ones may reach left of the frame, which
/// then moves right), and the x label. Returns the frame, the category axis and the figure size.
func categoryLayout(
    _ categories: [String], count n: Int, yAxis: YAxis, top: Double, size: Size, legend: Legend,
    xLabel: String, yLabel: String, style: Style
) -> (Frame, CategoryAxis, Double, Double) {
    var left = 10 + axisLabelSpace(yLabel, style: style) + yAxis.labelWidth + 8
    let right = (legend.isEmpty ? 0 : legend.columnWidth + 28) + 14
    var plotW = max(size.width - left - right, 80)
    var cat = CategoryAxis(categories, band: plotW / Double(max(n, 1)), style: style)
    if cat.overhang > 0 {
        left = max(left, cat.overhang + 8)
        plotW = max(size.width - left - right, 80)
        cat = CategoryAxis(categories, band: plotW / Double(max(n, 1)), style: style)
    }
    let bottom = cat.height + axisLabelSpace(xLabel, style: style) + 10
    let plotH = max(size.height - top - bottom, 80)
    let frame = Frame(x: left, y: top, w: plotW, h: plotH)
    return (frame, cat, left + plotW + right, max(top + plotH + bottom, top + legend.columnHeight + 10))
}

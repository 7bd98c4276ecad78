// Drawing one series over categorical bands, as a line or as bars. Shared by the single
// charts and the small multiples.

/// The series' value at category `i`, or nil when it is absent or not finite.
func value(_ values: [Double], _ i: Int) -> Double? {
    guard i >= 0, i < values.count, values[i].isFinite else { return nil }
    return values[i]
}

/// The hover text of one mark: "series, category: value" (the value with 4 significant digits).
func hoverText(_ series: String, _ categories: [String], _ i: Int, _ v: Double) -> String {
    let category = i >= 0 && i < categories.count ? categories[i] : ""
    let head = [series, category].filter { !$0.isEmpty }.joined(separator: ", ")
    // A stacked total can overflow; the output never carries "inf" (it is no number).
    let number = v.isFinite ? PlotFormat.significant(v) : "out of range"
    return head.isEmpty ? number : head + ": " + number
}

/// A `<g class="series">` holding one polyline per run of present values (a missing value
/// breaks the line rather than bridging it) and a marker per point, whose `<title>` gives its
/// value (`categories[i]` names point i). Isolated points always get a marker, since a line of
/// one point is invisible.
func drawLineSeries(
    _ c: inout Canvas, name: String, values: [Double], offset: Int, count: Int, categories: [String],
    bands: Bands, y: LinearScale, look: SeriesLook, markers: Bool
) {
    c.open("series", title: name)
    var runs: [[(Double, Double, String)]] = []
    var run: [(Double, Double, String)] = []
    for i in 0..<count {
        if let v = value(values, offset + i) {
            run.append((bands.center(i), y(v), hoverText(name, categories, i, v)))
        } else if !run.isEmpty {
            runs.append(run)
            run = []
        }
    }
    if !run.isEmpty { runs.append(run) }
    for r in runs {
        c.polyline(r.map { ($0.0, $0.1) }, stroke: look.color, width: 1.8, dash: look.dash)
        if markers || r.count == 1 {
            for p in r { c.marker(look.marker, p.0, p.1, r: 2.6, fill: look.color, title: p.2) }
        }
    }
    c.close()
}

/// Bars for several series side by side within each band: `groups` is one (values, look)
/// per series; `highlight` marks one category of a single-series chart. Each bar's `<title>`
/// gives its value (`categories[i]` names bar i).
func drawBarSeries(
    _ c: inout Canvas, names: [String], groups: [([Double], SeriesLook)], offset: Int, count: Int,
    categories: [String], bands: Bands, y: LinearScale, highlight: Int? = nil, style: Style
) {
    let k = max(groups.count, 1)
    let groupWidth = bands.width * (k == 1 ? 0.7 : 0.82)
    let barWidth = groupWidth / Double(k)
    let zero = y(0)
    for (s, (values, look)) in groups.enumerated() {
        c.open("series", title: s < names.count ? names[s] : "")
        for i in 0..<count {
            guard let v = value(values, offset + i) else { continue }
            let x = bands.center(i) - groupWidth / 2 + barWidth * Double(s)
            let top = y(v)
            let hover = hoverText(s < names.count ? names[s] : "", categories, i, v)
            if let h = highlight, h == offset + i {
                c.rect(
                    x, top, barWidth, zero - top, fill: style.highlightColor, stroke: "#222222",
                    strokeWidth: 1.5, cls: "highlight", title: hover)
            } else {
                c.rect(x, top, barWidth, zero - top, fill: look.fill, stroke: look.outline, strokeWidth: 1, title: hover)
            }
        }
        c.close()
    }
}

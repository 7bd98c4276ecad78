// Line chart over categories: one line per series, legend to the right, zero line.

/// The chart functions. Each is pure: the same arguments give the same SVG bytes.
public enum Chart {
    /// One line per series over categorical x positions (e.g. "Embed", "a0", "m0", ...).
    ///
    /// - Parameters:
    ///   - window: draw only these category indices (clamped), e.g. the last six components
    ///     for a zoomed view; the y axis then fits just the visible values.
    ///   - markers: a dot at every value (dropped automatically when categories are too dense).
    ///   - size: the whole figure, legend and labels included.
    public static func lines(
        title: String,
        categories: [String],
        series: [Series],
        xLabel: String = "",
        yLabel: String = "",
        window: Range<Int>? = nil,
        markers: Bool = true,
        size: Size = Size(width: 880, height: 440),
        style: Style = Style()
    ) -> SVG {
        let fs = style.fs
        let size = size.valid(or: Size(width: 880, height: 440))
        let lo = min(max(window?.lowerBound ?? 0, 0), categories.count)
        let hi = min(max(window?.upperBound ?? categories.count, lo), categories.count)
        let cats = Array(categories[lo..<hi])
        let n = cats.count

        let looks = series.indices.map { SeriesLook(index: $0, override: series[$0].color, style: style) }
        let legend = Legend(
            series.indices.map {
                LegendEntry(
                    name: series[$0].name, color: looks[$0].color, dash: looks[$0].dash, glyph: .line(marker: markers),
                    shape: looks[$0].marker)
            }, style: style)

        let visible = series.flatMap { s in (lo..<hi).compactMap { value(s.values, $0) } }
        let top = titleHeight(title, style: style)
        let yAxis = YAxis(
            extent: finiteExtent(visible), includeZero: true,
            length: size.height - top - 4 * fs - 40, style: style)

        let (frame, cat, width, height) = categoryLayout(
            cats, count: n, yAxis: yAxis, top: top, size: size, legend: legend,
            xLabel: xLabel, yLabel: yLabel, style: style)

        var c = Canvas()
        drawTitle(&c, title, width: width, style: style)
        yAxis.drawGrid(&c, frame: frame, labels: true, style: style)
        yAxis.drawZero(&c, frame: frame)
        drawSpines(&c, frame)
        let bands = Bands(frame, count: n)
        cat.draw(&c, y: frame.bottom, center: bands.center, style: style)
        if n == 0 || visible.isEmpty { drawNoData(&c, frame, style: style) }

        let y = yAxis.scale(frame)
        let dense = bands.width < 7
        for (i, s) in series.enumerated() {
            drawLineSeries(
                &c, name: s.name, values: s.values, offset: lo, count: n, categories: cats, bands: bands,
                y: y, look: looks[i], markers: markers && !dense)
        }
        drawYLabel(&c, yLabel, x: 8, centerY: frame.y + frame.h / 2, maxLength: frame.h, style: style)
        drawXLabel(
            &c, xLabel, centerX: frame.x + frame.w / 2, y: frame.bottom + cat.height + 4,
            maxLength: frame.w, style: style)
        legend.drawColumn(&c, x: frame.right + 20, y: frame.y)
        return c.document(width: width, height: height, title: title, style: style)
    }
}

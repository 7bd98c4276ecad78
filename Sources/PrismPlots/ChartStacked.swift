// Stacked bars with signed parts: positives stack up from zero, negatives down from zero,
// and a marker shows each bar's net total.

extension Chart {
    /// One bar per category, stacked from `stacks` (one series per contributor, e.g. per
    /// neuron). Positive parts stack upwards from zero and negative parts downwards, in the
    /// order given; with `showTotal` a black tick and dot mark the sum of each bar.
    public static func stackedBars(
        title: String,
        categories: [String],
        stacks: [Series],
        showTotal: Bool = true,
        totalLabel: String = "total",
        xLabel: String = "",
        yLabel: String = "",
        size: Size = Size(width: 880, height: 440),
        style: Style = Style()
    ) -> SVG {
        let fs = style.fs
        let size = size.valid(or: Size(width: 880, height: 440))
        let n = categories.count
        let looks = stacks.indices.map { SeriesLook(index: $0, override: stacks[$0].color, style: style) }

        // Running tops of the positive and negative stacks, and the net total, per bar.
        var up = [Double](repeating: 0, count: n), down = up, total = up
        var any = [Bool](repeating: false, count: n)
        for s in stacks {
            for j in 0..<n {
                guard let v = value(s.values, j) else { continue }
                if v >= 0 { up[j] += v } else { down[j] += v }
                total[j] += v
                any[j] = true
            }
        }
        var entries = stacks.indices.map {
            LegendEntry(name: stacks[$0].name, color: looks[$0].fill, dash: nil, glyph: .box, outline: looks[$0].outline)
        }
        if showTotal { entries.append(LegendEntry(name: totalLabel, color: "#000000", dash: nil, glyph: .total)) }
        let legend = Legend(entries, style: style)

        let top = titleHeight(title, style: style)
        let extent = finiteExtent(up + down + total)
        let yAxis = YAxis(extent: extent, includeZero: true, length: size.height - top - 4 * fs - 40, style: style)
        let (frame, cat, width, height) = categoryLayout(
            categories, count: n, yAxis: yAxis, top: top, size: size, legend: legend,
            xLabel: xLabel, yLabel: yLabel, style: style)

        var c = Canvas()
        drawTitle(&c, title, width: width, style: style)
        yAxis.drawGrid(&c, frame: frame, labels: true, style: style)
        drawSpines(&c, frame)
        let bands = Bands(frame, count: n)
        cat.draw(&c, y: frame.bottom, center: bands.center, style: style)
        if n == 0 || !any.contains(true) { drawNoData(&c, frame, style: style) }

        let y = yAxis.scale(frame)
        let barW = bands.width * 0.66
        var upBase = [Double](repeating: 0, count: n), downBase = upBase
        for (i, s) in stacks.enumerated() {
            c.open("series", title: s.name)
            for j in 0..<n {
                guard let v = value(s.values, j), v != 0 else { continue }
                let from = v > 0 ? upBase[j] : downBase[j]
                let to = from + v
                if v > 0 { upBase[j] = to } else { downBase[j] = to }
                // A thin white edge keeps neighbouring parts of one bar apart.
                c.rect(
                    bands.center(j) - barW / 2, y(to), barW, y(from) - y(to), fill: looks[i].fill,
                    stroke: looks[i].outline ?? "#FFFFFF", strokeWidth: 0.6, title: hoverText(s.name, categories, j, v))
            }
            c.close()
        }
        yAxis.drawZero(&c, frame: frame)
        if showTotal {
            c.open("totals", title: totalLabel)
            for j in 0..<n where any[j] {
                let x = bands.center(j), ty = y(total[j])
                c.line(x - barW * 0.6, ty, x + barW * 0.6, ty, stroke: "#000000", width: 2.2)
                c.circle(x, ty, r: 3, fill: "#000000", title: hoverText(totalLabel, categories, j, total[j]))
            }
            c.close()
        }
        drawYLabel(&c, yLabel, x: 8, centerY: frame.y + frame.h / 2, maxLength: frame.h, style: style)
        drawXLabel(
            &c, xLabel, centerX: frame.x + frame.w / 2, y: frame.bottom + cat.height + 4,
            maxLength: frame.w, style: style)
        legend.drawColumn(&c, x: frame.right + 20, y: frame.y)
        return c.document(width: width, height: height, title: title, style: style)
    }
}

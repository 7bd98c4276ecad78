// Heatmap of signed values on a diverging scale symmetric about zero, with a colour bar.

/// How heatmap values map to colours.
public enum HeatmapScale: Sendable, Equatable {
    /// Blue - white - red over [-limit, limit]: signed values, white at zero.
    case diverging
    /// White - red over [0, limit] (the red half of the diverging map): non-negative values
    /// such as attention weights. Negative values get the lightest colour.
    case sequential
}

extension Chart {
    /// A grid of cells, `values[row][column]`, coloured blue (negative) - white (zero) - red
    /// (positive). The scale runs from -limit to +limit; `limit` defaults to the largest
    /// |value|, and passing one shared limit makes several heatmaps comparable. Missing or
    /// non-finite cells are grey. `annotate` writes each value in its cell when it fits.
    /// `scale: .sequential` suits non-negative values (attention patterns). `marked[r]`, when
    /// given, is the column whose cell in row r gets a black outline (e.g. the right answer).
    public static func heatmap(
        title: String,
        rows: [String],
        columns: [String],
        values: [[Double]],
        colorLabel: String = "",
        xLabel: String = "",
        yLabel: String = "",
        limit: Double? = nil,
        annotate: Bool = false,
        scale: HeatmapScale = .diverging,
        marked: [Int?] = [],
        cell: Size = Size(width: 34, height: 22),
        style: Style = Style()
    ) -> SVG {
        let fs = style.fs
        let cell = cell.valid(or: Size(width: 34, height: 22))
        let cw = max(cell.width, 2), ch = max(cell.height, 2)
        let nr = rows.count, nc = columns.count
        let cells = (0..<nr).map { r in (0..<nc).map { col in r < values.count ? value(values[r], col) : nil } }
        let largest = cells.joined().compactMap { $0.map(abs) }.max() ?? 0
        var lim = limit.map(abs) ?? largest
        if !(lim > 0) || !lim.isFinite { lim = largest > 0 ? largest : 1 }
        let low = scale == .diverging ? -lim : 0
        // Position on the diverging map in [-1, 1]; the sequential scale uses its red half.
        let t: (Double) -> Double = { v in scale == .diverging ? v / lim : max(v, 0) / lim }

        let top = titleHeight(title, style: style)
        let rowLabels = rows.map { Text.truncated($0, maxChars: style.maxChars) }
        let rowLabelW = rowLabels.map { Text.width($0, fontSize: fs) }.max() ?? 0
        let cat = CategoryAxis(columns, band: cw, style: style)
        var left = max(10 + axisLabelSpace(yLabel, style: style) + rowLabelW + 8, cat.overhang + 8)
        let gridW = cw * Double(nc), gridH = ch * Double(nr)
        let barH = max(gridH, 150), barW = 14.0
        let barTicks = Ticks.inside(low, lim, target: Ticks.target(length: barH, spacing: 40))
        let tickLabels = barTicks.labels
        let tickW = tickLabels.map { Text.width($0, fontSize: fs) }.max() ?? 0
        let rightPart = 20 + barW + 6 + tickW + axisLabelSpace(colorLabel, style: style) + 12
        // A narrow heatmap under a long title is centred under it rather than cut off.
        let needed = titleWidth(title, style: style)
        left += max(0, (needed - (left + gridW + rightPart)) / 2)
        let frame = Frame(x: left, y: top, w: gridW, h: gridH)
        let barX = frame.right + 20
        let width = max(frame.right + rightPart, needed)
        let belowFrame = cat.height + axisLabelSpace(xLabel, style: style) + 10
        let height = top + max(frame.h + belowFrame, barH + 10)

        var c = Canvas()
        drawTitle(&c, title, width: width, style: style)
        c.open("cells")
        for r in 0..<nr {
            for col in 0..<nc {
                let v = cells[r][col]
                let fill = v.map { Palette.diverging(t($0)) } ?? Palette.missing
                // The hover text names the cell and its value (the report inlines the SVG).
                let hover = "\(r < rows.count ? rows[r] : ""), \(col < columns.count ? columns[col] : ""): \(v.map(PlotFormat.significant) ?? "missing")"
                c.rect(frame.x + cw * Double(col), frame.y + ch * Double(r), cw, ch, fill: fill, crisp: true, title: hover)
            }
        }
        c.close()
        c.open("marks")
        for (r, m) in marked.enumerated() {
            guard r < nr, let col = m, col >= 0, col < nc else { continue }
            c.rect(frame.x + cw * Double(col) + 1, frame.y + ch * Double(r) + 1, cw - 2, ch - 2, fill: "none", stroke: "#000000", strokeWidth: 1.6)
        }
        c.close()
        if annotate { drawAnnotations(&c, cells, frame: frame, cell: (cw, ch), limit: lim, t: t, style: style) }
        c.rect(frame.x, frame.y, frame.w, frame.h, fill: "none", stroke: "#888888", strokeWidth: 0.8)
        if nr == 0 || nc == 0 { drawNoData(&c, Frame(x: frame.x, y: frame.y, w: max(frame.w, 120), h: max(frame.h, 60)), style: style) }

        for (r, label) in rowLabels.enumerated() {
            c.text(label, frame.x - 6, frame.y + ch * (Double(r) + 0.5) + fs * 0.35, anchor: .end, fill: Ink.text)
        }
        cat.draw(&c, y: frame.bottom, center: { frame.x + cw * (Double($0) + 0.5) }, style: style)
        drawYLabel(&c, yLabel, x: 8, centerY: frame.y + frame.h / 2, maxLength: max(frame.h, 60), style: style)
        drawXLabel(
            &c, xLabel, centerX: frame.x + frame.w / 2, y: frame.bottom + cat.height + 4,
            maxLength: max(frame.w, 60), style: style)

        guard nr > 0, nc > 0 else { return c.document(width: width, height: height, title: title, style: style) }
        // The colour bar is a stack of thin rectangles rather than a gradient, because a
        // gradient needs an element id and ids collide when several SVGs share one page.
        c.open("colorbar")
        let steps = 64
        let sy = LinearScale(d0: low, d1: lim, r0: frame.y + barH, r1: frame.y)
        for k in 0..<steps {
            let a = low + (lim - low) * Double(k) / Double(steps)
            let b = low + (lim - low) * Double(k + 1) / Double(steps)
            // Overlap by half a pixel so no hairline seams show between the strips.
            c.rect(barX, sy(b) - 0.5, barW, sy(a) - sy(b) + 0.5, fill: Palette.diverging(t((a + b) / 2)))
        }
        c.rect(barX, frame.y, barW, barH, fill: "none", stroke: "#888888", strokeWidth: 0.8)
        for (v, label) in zip(barTicks.values, tickLabels) {
            c.line(barX + barW, sy(v), barX + barW + 4, sy(v), stroke: "#666666")
            c.text(label, barX + barW + 6, sy(v) + fs * 0.35, fill: Ink.muted)
        }
        if !colorLabel.isEmpty {
            let t = Text.fitted(colorLabel, maxWidth: barH, fontSize: fs)
            let x = barX + barW + 6 + tickW + 8 + fs * 0.85
            c.text(t, x, frame.y + barH / 2, anchor: .middle, fill: Ink.text, rotate: 90, cls: "axis-label")
        }
        c.close()
        return c.document(width: width, height: height, title: title, style: style)
    }

    /// Each value written in its cell, in white on dark cells, when the text fits the cell.
    private static func drawAnnotations(
        _ c: inout Canvas, _ cells: [[Double?]], frame: Frame,
        cell: (Double, Double), limit: Double, t: (Double) -> Double,
        style: Style
    ) {
        let size = min(style.fs * 0.82, cell.1 * 0.6)
        let decimals = limit >= 100 ? 0 : limit >= 10 ? 1 : 2
        c.open("annotations")
        for (r, row) in cells.enumerated() {
            for (col, v) in row.enumerated() {
                guard let v else { continue }
                var s = PlotFormat.fixed(v, decimals: decimals)
                if s.hasPrefix("-") { s = "\u{2212}" + s.dropFirst() }
                guard Text.width(s, fontSize: size) <= cell.0 - 3 else { continue }
                let x = frame.x + cell.0 * (Double(col) + 0.5), y = frame.y + cell.1 * (Double(r) + 0.5) + size * 0.35
                c.text(s, x, y, anchor: .middle, size: size, fill: Palette.isDark(t(v)) ? "#FFFFFF" : "#222222")
            }
        }
        c.close()
    }
}

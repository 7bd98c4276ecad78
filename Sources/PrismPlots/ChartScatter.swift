// Scatter plot with labelled points and an optional path joining them in a given order.

extension Chart {
    /// Points with text labels. `pathOrder` joins the points with a thin line in that order
    /// of indices (out-of-range or non-finite points are skipped), back to the first when
    /// `closePath` is set. With `equalAspect` one unit is as long on both axes, so distances
    /// and angles read truly (as a PCA plane should).
    public static func scatter(
        title: String,
        points: [ScatterPoint],
        pathOrder: [Int]? = nil,
        closePath: Bool = false,
        xLabel: String = "",
        yLabel: String = "",
        equalAspect: Bool = false,
        size: Size = Size(width: 560, height: 500),
        style: Style = Style()
    ) -> SVG {
        let fs = style.fs
        let size = size.valid(or: Size(width: 560, height: 500))
        let valid = points.indices.filter { points[$0].x.isFinite && points[$0].y.isFinite }
        var (x0, x1) = padded(finiteExtent(valid.map { points[$0].x }))
        var (y0, y1) = padded(finiteExtent(valid.map { points[$0].y }))

        let top = titleHeight(title, style: style)
        let estimate = YAxis(ticks: Ticks.inside(y0, y1, target: Ticks.target(length: size.height - top - 60)), style: style)
        let left = 10 + axisLabelSpace(yLabel, style: style) + estimate.labelWidth + 12
        let bottom = CategoryAxis.tick + 4 + fs + axisLabelSpace(xLabel, style: style) + 10
        let frame = Frame(x: left, y: top, w: max(size.width - left - 20, 80), h: max(size.height - top - bottom, 80))

        if equalAspect {
            // Grow whichever axis has fewer units per pixel until both match, about its centre.
            let u = max((x1 - x0) / frame.w, (y1 - y0) / frame.h)
            let cx = (x0 + x1) / 2, cy = (y0 + y1) / 2
            (x0, x1) = (cx - u * frame.w / 2, cx + u * frame.w / 2)
            (y0, y1) = (cy - u * frame.h / 2, cy + u * frame.h / 2)
        }
        let xt = Ticks.inside(x0, x1, target: Ticks.target(length: frame.w, spacing: 70))
        let yt = Ticks.inside(y0, y1, target: Ticks.target(length: frame.h))
        let sx = LinearScale(d0: x0, d1: x1, r0: frame.x, r1: frame.right)
        let sy = LinearScale(d0: y0, d1: y1, r0: frame.bottom, r1: frame.y)

        var c = Canvas()
        let width = frame.right + 20
        drawTitle(&c, title, width: width, style: style)
        for (v, label) in zip(yt.values, yt.labels) {
            c.line(frame.x, sy(v), frame.right, sy(v), stroke: v == 0 ? "#B0B0B0" : Ink.grid, crisp: true)
            c.text(label, frame.x - 6, sy(v) + fs * 0.35, anchor: .end, fill: Ink.muted)
        }
        for (v, label) in zip(xt.values, xt.labels) {
            c.line(sx(v), frame.y, sx(v), frame.bottom, stroke: v == 0 ? "#B0B0B0" : Ink.grid, crisp: true)
            c.line(sx(v), frame.bottom, sx(v), frame.bottom + CategoryAxis.tick, stroke: Ink.spine)
            c.text(label, sx(v), frame.bottom + CategoryAxis.tick + 2 + fs * 0.85, anchor: .middle, fill: Ink.muted)
        }
        drawSpines(&c, frame)
        if valid.isEmpty { drawNoData(&c, frame, style: style) }

        let color = style.colors[0]
        if let order = pathOrder {
            var path = order.filter { valid.contains($0) }.map { (sx(points[$0].x), sy(points[$0].y)) }
            if closePath, let first = path.first, path.count > 2 { path.append(first) }
            c.open("path")
            c.polyline(path, stroke: "#8A8A8A", width: 1.3)
            c.close()
        }

        // Labels go outward from the centroid, which keeps them off a ring of points and
        // off the path joining them.
        let px = valid.map { sx(points[$0].x) }, py = valid.map { sy(points[$0].y) }
        let cx = px.isEmpty ? 0 : px.reduce(0, +) / Double(px.count)
        let cy = py.isEmpty ? 0 : py.reduce(0, +) / Double(py.count)
        c.open("series", title: "points")
        for (k, i) in valid.enumerated() {
            let p = points[i]
            let hover = "\(p.label): (\(PlotFormat.significant(p.x)), \(PlotFormat.significant(p.y)))"
            c.circle(px[k], py[k], r: 4.2, fill: color, stroke: "#FFFFFF", strokeWidth: 1, title: hover)
        }
        for (k, i) in valid.enumerated() {
            var dx = px[k] - cx, dy = py[k] - cy
            let len = (dx * dx + dy * dy).squareRoot()
            if len < 1e-6 { (dx, dy) = (0.7071, -0.7071) } else { dx /= len; dy /= len }
            let label = Text.truncated(points[i].label, maxChars: style.maxChars)
            let anchor: Anchor = dx > 0.38 ? .start : dx < -0.38 ? .end : .middle
            let tx = px[k] + dx * 8, ty = py[k] + dy * 9 + fs * 0.35
            c.text(label, tx, ty, anchor: anchor, bold: true, fill: Ink.text, cls: "point-label")
        }
        c.close()
        drawYLabel(&c, yLabel, x: 8, centerY: frame.y + frame.h / 2, maxLength: frame.h, style: style)
        drawXLabel(
            &c, xLabel, centerX: frame.x + frame.w / 2, y: frame.bottom + CategoryAxis.tick + 6 + fs,
            maxLength: frame.w, style: style)
        return c.document(width: width, height: frame.bottom + bottom, title: title, style: style)
    }

    /// The data interval with a margin for point labels (8% a side, or ±1 for a single value).
    private static func padded(_ e: (Double, Double)?) -> (Double, Double) {
        let (a, b) = Ticks.widened(e?.0 ?? .nan, e?.1 ?? .nan)
        let pad = (b - a) * 0.08
        return (a - pad, b + pad)
    }
}

// Grids of small panels: small multiples of lines or bars, and faceted bar charts.

extension Chart {
    /// A grid of panels, `columns` wide, each drawing its own categories and series.
    /// A series name gets the same colour in every panel; a legend above the grid lists the
    /// names when there is more than one.
    ///
    /// - Parameters:
    ///   - sharedY: one y scale for all panels (tick labels on the first column only);
    ///     otherwise each panel fits its own values and labels its own axis.
    ///   - panelSize: the plotting area of one panel (labels and titles come on top).
    public static func smallMultiples(
        title: String,
        panels: [Panel],
        columns: Int,
        xLabel: String = "",
        yLabel: String = "",
        sharedY: Bool = true,
        kind: PanelKind = .lines,
        panelSize: Size = Size(width: 240, height: 170),
        style: Style = Style()
    ) -> SVG {
        var names: [String] = []
        for p in panels { for s in p.series where !names.contains(s.name) { names.append(s.name) } }
        // A series with its own colour keeps it; the rest take palette colours by name.
        var overrides: [String: String] = [:]
        for p in panels { for s in p.series { if let col = s.color, overrides[s.name] == nil { overrides[s.name] = col } } }
        let looks = names.indices.map { SeriesLook(index: $0, override: overrides[names[$0]], style: style) }
        let lookOf: (String) -> SeriesLook = { name in
            names.firstIndex(of: name).map { looks[$0] } ?? SeriesLook(index: 0, override: nil, style: style)
        }
        let entries =
            names.count > 1
            ? names.indices.map { i in
                LegendEntry(
                    name: names[i], color: kind == .lines ? looks[i].color : looks[i].fill, dash: kind == .lines ? looks[i].dash : nil,
                    glyph: kind == .lines ? .line(marker: true) : .box, shape: looks[i].marker,
                    outline: kind == .bars ? looks[i].outline : nil)
            } : []
        let grid = PanelGrid(
            panels: panels.map { p in
                GridPanel(
                    title: p.title, categories: p.categories, names: p.series.map(\.name),
                    values: p.series.map(\.values), looks: p.series.map { lookOf($0.name) }, highlight: nil)
            },
            kind: kind, columns: columns, sharedY: sharedY, panelSize: panelSize, style: style)
        return grid.render(title: title, xLabel: xLabel, yLabel: yLabel, legend: Legend(entries, style: style))
    }

    /// One bar chart per panel (e.g. one per country, bars = candidate cities), bars in a
    /// neutral colour except each panel's `highlight`, drawn in the highlight colour with an
    /// outline. `highlightLabel`, when not empty, explains the highlight in a legend.
    public static func facetedBars(
        title: String,
        panels: [BarPanel],
        columns: Int,
        xLabel: String = "",
        yLabel: String = "",
        sharedY: Bool = true,
        highlightLabel: String = "",
        panelSize: Size = Size(width: 240, height: 170),
        style: Style = Style()
    ) -> SVG {
        let plain = SeriesLook(index: 0, override: style.barColor, style: style)
        let grid = PanelGrid(
            panels: panels.map { p in
                GridPanel(
                    title: p.title, categories: p.categories, names: [p.title], values: [p.values],
                    looks: [plain], highlight: p.highlight)
            },
            kind: .bars, columns: columns, sharedY: sharedY, panelSize: panelSize, style: style)
        let hasHighlight = panels.contains { $0.highlight != nil }
        let entries =
            highlightLabel.isEmpty || !hasHighlight ? [] : [LegendEntry(name: highlightLabel, color: style.highlightColor, dash: nil, glyph: .highlight)]
        return grid.render(title: title, xLabel: xLabel, yLabel: yLabel, legend: Legend(entries, style: style))
    }
}

struct GridPanel {
    var title: String
    var categories: [String]
    var names: [String]
    var values: [[Double]]
    var looks: [SeriesLook]
    var highlight: Int?

    var finiteValues: [Double] {
        values.flatMap { v in categories.indices.compactMap { value(v, $0) } }
    }
}

/// Lays out panels in rows and columns and draws them.
struct PanelGrid {
    var panels: [GridPanel]
    var kind: PanelKind
    var columns: Int
    var sharedY: Bool
    var panelSize: Size
    var style: Style

    init(panels: [GridPanel], kind: PanelKind, columns: Int, sharedY: Bool, panelSize: Size, style: Style) {
        self.panels = panels
        self.kind = kind
        self.columns = max(1, min(columns, max(panels.count, 1)))
        self.sharedY = sharedY
        let size = panelSize.valid(or: Size(width: 240, height: 170))
        self.panelSize = Size(width: max(size.width, 60), height: max(size.height, 50))
        self.style = style
    }

    func render(title: String, xLabel: String, yLabel: String, legend: Legend) -> SVG {
        let fs = style.fs
        let pw = panelSize.width, ph = panelSize.height
        let n = panels.count
        let cols = columns
        let rows = max(1, (n + cols - 1) / cols)

        let axisOf: (GridPanel) -> YAxis = { p in
            YAxis(extent: finiteExtent(p.finiteValues), includeZero: true, length: ph, style: style)
        }
        let shared = YAxis(
            extent: finiteExtent(panels.flatMap(\.finiteValues)), includeZero: true,
            length: ph, style: style)
        let axes = panels.map { sharedY ? shared : axisOf($0) }
        let tickWidth = axes.map(\.labelWidth).max() ?? shared.labelWidth

        let cats = panels.map { CategoryAxis($0.categories, band: pw / Double(max($0.categories.count, 1)), style: style) }
        // With identical categories everywhere, only panels with nothing below them need labels.
        let sameCategories = panels.allSatisfy { $0.categories == panels.first?.categories }
        let labelled = panels.indices.map { i in !sameCategories || i + cols >= n }
        var axisHeight = [Double](repeating: 6, count: rows)
        for i in panels.indices where labelled[i] {
            axisHeight[i / cols] = max(axisHeight[i / cols], cats[i].height)
        }

        let panelTitle = fs + 10
        let rowGap = 12.0
        let colGap = sharedY ? 18 : tickWidth + 22
        let overhang = panels.indices.filter { $0 % cols == 0 && labelled[$0] }.map { cats[$0].overhang }.max() ?? 0
        var left = max(10 + axisLabelSpace(yLabel, style: style) + tickWidth + 8, overhang + 8)
        let gridWidth = Double(cols) * pw + Double(cols - 1) * colGap
        // A narrow grid under a long title is centred under it rather than cut off.
        let needed = titleWidth(title, style: style)
        left += max(0, (needed - (left + gridWidth + 16)) / 2)
        let width = max(left + gridWidth + 16, needed)
        let titleH = titleHeight(title, style: style)
        let legendH = legend.wrappedHeight(maxWidth: width - 20)
        let top = titleH + legendH

        var rowTop = [Double](repeating: top, count: rows)
        for r in 1..<rows {
            rowTop[r] = rowTop[r - 1] + panelTitle + ph + axisHeight[r - 1] + rowGap
        }
        let gridBottom = rowTop[rows - 1] + panelTitle + ph + axisHeight[rows - 1]
        let height = gridBottom + axisLabelSpace(xLabel, style: style) + 10

        var c = Canvas()
        drawTitle(&c, title, width: width, style: style)
        legend.drawWrapped(&c, x: 10, y: titleH - 4, maxWidth: width - 20)
        if n == 0 {
            drawNoData(&c, Frame(x: left, y: top, w: gridWidth, h: ph + panelTitle), style: style)
        }
        for (i, p) in panels.enumerated() {
            let r = i / cols, col = i % cols
            let frame = Frame(x: left + Double(col) * (pw + colGap), y: rowTop[r] + panelTitle, w: pw, h: ph)
            drawPanel(
                &c, p, frame: frame, axis: axes[i], tickLabels: !sharedY || col == 0,
                categories: labelled[i] ? cats[i] : nil)
        }
        let gridTop = top + panelTitle
        drawYLabel(&c, yLabel, x: 8, centerY: (gridTop + gridBottom) / 2, maxLength: gridBottom - gridTop, style: style)
        drawXLabel(&c, xLabel, centerX: left + gridWidth / 2, y: gridBottom + 4, maxLength: gridWidth, style: style)
        return c.document(width: width, height: height, title: title, style: style)
    }

    private func drawPanel(
        _ c: inout Canvas, _ p: GridPanel, frame: Frame, axis: YAxis,
        tickLabels: Bool, categories cat: CategoryAxis?
    ) {
        let fs = style.fs
        c.open("panel")
        let t = Text.fitted(p.title, maxWidth: frame.w, fontSize: fs)
        c.text(t, frame.x + frame.w / 2, frame.y - 7, anchor: .middle, bold: true, fill: Ink.text, cls: "panel-title")
        axis.drawGrid(&c, frame: frame, labels: tickLabels, style: style)
        axis.drawZero(&c, frame: frame)
        drawSpines(&c, frame)
        let n = p.categories.count
        let bands = Bands(frame, count: n)
        if let cat { cat.draw(&c, y: frame.bottom, center: bands.center, style: style) }
        if n == 0 || p.finiteValues.isEmpty { drawNoData(&c, frame, style: style) }
        let y = axis.scale(frame)
        switch kind {
        case .lines:
            for (s, values) in p.values.enumerated() {
                drawLineSeries(
                    &c, name: s < p.names.count ? p.names[s] : "", values: values, offset: 0, count: n, categories: p.categories,
                    bands: bands, y: y, look: p.looks[s], markers: bands.width >= 10)
            }
        case .bars:
            drawBarSeries(
                &c, names: p.names, groups: Array(zip(p.values, p.looks)), offset: 0, count: n,
                categories: p.categories, bands: bands, y: y, highlight: p.highlight, style: style)
        }
        c.close()
    }
}

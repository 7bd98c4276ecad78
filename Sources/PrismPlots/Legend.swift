// Legends: a column beside the plot, or rows that wrap above a grid of panels. Both sit
// outside the data area so they never cover data.

struct LegendEntry {
    enum Glyph { case line(marker: Bool), box, total, highlight }
    var name: String
    var color: String
    var dash: String?
    var glyph: Glyph
    /// The marker drawn on a `.line(marker: true)` glyph.
    var shape: MarkerShape = .circle
    /// An outline around a `.box` glyph (bars of later palette rounds have one).
    var outline: String? = nil
}

struct Legend {
    var entries: [LegendEntry]
    var labels: [String]
    var style: Style

    static let swatch = 22.0
    static let gap = 6.0

    init(_ entries: [LegendEntry], style: Style) {
        self.entries = entries
        self.style = style
        labels = entries.map { Text.truncated($0.name, maxChars: style.maxChars) }
    }

    var isEmpty: Bool { entries.isEmpty }
    var rowHeight: Double { style.fs * 1.55 }

    private func entryWidth(_ i: Int) -> Double {
        Legend.swatch + Legend.gap + Text.width(labels[i], fontSize: style.fs)
    }

    /// Width of the vertical (column) legend.
    var columnWidth: Double {
        isEmpty ? 0 : (entries.indices.map(entryWidth).max() ?? 0)
    }

    var columnHeight: Double { Double(entries.count) * rowHeight }

    /// Draws the legend as a column with its top-left corner at (x, y).
    func drawColumn(_ c: inout Canvas, x: Double, y: Double) {
        c.open("legend")
        for i in entries.indices {
            drawEntry(&c, i, x: x, midY: y + rowHeight * (Double(i) + 0.5))
        }
        c.close()
    }

    /// Rows of entry indices with their x offsets when wrapped at `maxWidth`.
    func rows(maxWidth: Double) -> [[(Int, Double)]] {
        var rows: [[(Int, Double)]] = []
        var row: [(Int, Double)] = []
        var x = 0.0
        for i in entries.indices {
            let w = entryWidth(i)
            if !row.isEmpty && x + w > maxWidth {
                rows.append(row)
                row = []
                x = 0
            }
            row.append((i, x))
            x += w + 18
        }
        if !row.isEmpty { rows.append(row) }
        return rows
    }

    func wrappedHeight(maxWidth: Double) -> Double {
        isEmpty ? 0 : Double(rows(maxWidth: maxWidth).count) * rowHeight + 6
    }

    /// Draws the legend in centred rows within [x, x + maxWidth], starting at y.
    func drawWrapped(_ c: inout Canvas, x: Double, y: Double, maxWidth: Double) {
        guard !isEmpty else { return }
        c.open("legend")
        for (r, row) in rows(maxWidth: maxWidth).enumerated() {
            guard let last = row.last else { continue }
            let used = last.1 + entryWidth(last.0)
            let x0 = x + max(0, (maxWidth - used) / 2)
            for (i, dx) in row {
                drawEntry(&c, i, x: x0 + dx, midY: y + rowHeight * (Double(r) + 0.5))
            }
        }
        c.close()
    }

    private func drawEntry(_ c: inout Canvas, _ i: Int, x: Double, midY: Double) {
        let e = entries[i]
        let s = Legend.swatch
        switch e.glyph {
        case .line(let marker):
            c.line(x, midY, x + s, midY, stroke: e.color, width: 2.2, dash: e.dash)
            if marker { c.marker(e.shape, x + s / 2, midY, r: 2.8, fill: e.color) }
        case .box:
            c.rect(x + 4, midY - 6, s - 8, 12, fill: e.color, stroke: e.outline)
        case .highlight:
            c.rect(x + 4, midY - 6, s - 8, 12, fill: e.color, stroke: "#222222", strokeWidth: 1.5)
        case .total:
            c.line(x + 2, midY, x + s - 2, midY, stroke: e.color, width: 2.2)
            c.circle(x + s / 2, midY, r: 3, fill: e.color)
        }
        c.text(labels[i], x + s + Legend.gap, midY + style.fs * 0.35, fill: Ink.text)
    }
}

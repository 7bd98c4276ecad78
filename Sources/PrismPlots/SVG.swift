// The finished figure and the element writer the charts draw with.

import Foundation

/// A standalone SVG document. It has no XML declaration and no element ids, so the same
/// text can be written to a .svg file or inlined (several times) into an HTML page.
public struct SVG: Sendable, Equatable {
    public var text: String
    public var width: Double
    public var height: Double

    public init(text: String, width: Double, height: Double) {
        self.text = text
        self.width = width
        self.height = height
    }

    /// Writes the document as UTF-8, creating missing parent directories.
    public func write(to path: String) throws {
        try writeTextFile(text, to: path)
    }
}

/// Writes `text` as UTF-8 to `path` atomically, creating missing parent directories.
func writeTextFile(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    // The parent in plain Swift: Foundation's path methods trapped on one-character names.
    if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
        try FileManager.default.createDirectory(atPath: String(path[..<slash]), withIntermediateDirectories: true)
    }
    try Data(text.utf8).write(to: url, options: .atomic)
}

enum Anchor: String {
    case start, middle, end
}

/// Accumulates SVG elements. Every string that reaches the output passes through
/// `Text.escape`, and every number through `PlotFormat.coord`.
struct Canvas {
    private(set) var parts: [String] = []

    private func n(_ v: Double) -> String { PlotFormat.coord(v) }
    private func q(_ s: String) -> String { "\"" + Text.escape(s) + "\"" }

    mutating func open(_ cls: String, title: String? = nil) {
        parts.append("<g class=" + q(cls) + ">")
        if let title { parts.append("<title>" + Text.escape(Text.label(title)) + "</title>") }
    }

    mutating func close() { parts.append("</g>") }

    mutating func line(
        _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double,
        stroke: String, width: Double = 1, dash: String? = nil, crisp: Bool = false
    ) {
        var s = "<line x1=\(q(n(x1))) y1=\(q(n(y1))) x2=\(q(n(x2))) y2=\(q(n(y2))) stroke=\(q(stroke))"
        if width != 1 { s += " stroke-width=\(q(n(width)))" }
        if let dash { s += " stroke-dasharray=\(q(dash))" }
        if crisp { s += " shape-rendering=\"crispEdges\"" }
        parts.append(s + "/>")
    }

    mutating func rect(
        _ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String,
        stroke: String? = nil, strokeWidth: Double = 1, cls: String? = nil, crisp: Bool = false,
        title: String? = nil
    ) {
        // Negative extents (a bar below zero) are normalised: SVG rejects negative sizes.
        let x0 = w < 0 ? x + w : x, y0 = h < 0 ? y + h : y
        var s = "<rect"
        if let cls { s += " class=\(q(cls))" }
        s += " x=\(q(n(x0))) y=\(q(n(y0))) width=\(q(n(abs(w)))) height=\(q(n(abs(h)))) fill=\(q(fill))"
        if let stroke { s += " stroke=\(q(stroke)) stroke-width=\(q(n(strokeWidth)))" }
        if crisp { s += " shape-rendering=\"crispEdges\"" }
        parts.append(closed(s, title: title))
    }

    /// Ends an element: with a `<title>` child (the browser's hover text) when `title` is given.
    private func closed(_ s: String, title: String?) -> String {
        guard let title else { return s + "/>" }
        let tag = String(s.dropFirst().prefix { $0 != " " })
        return s + "><title>" + Text.escape(Text.label(title)) + "</title></" + tag + ">"
    }

    /// A point marker of `shape` centred on (cx, cy) with "radius" `r`.
    mutating func marker(
        _ shape: MarkerShape, _ cx: Double, _ cy: Double, r: Double, fill: String, title: String? = nil
    ) {
        let pts: [(Double, Double)]
        switch shape {
        case .circle:
            circle(cx, cy, r: r, fill: fill, title: title)
            return
        case .square:
            let a = r * 0.9
            pts = [(cx - a, cy - a), (cx + a, cy - a), (cx + a, cy + a), (cx - a, cy + a)]
        case .triangle:
            let a = r * 1.25
            pts = [(cx, cy - a), (cx + a * 0.95, cy + a * 0.7), (cx - a * 0.95, cy + a * 0.7)]
        case .diamond:
            let a = r * 1.3
            pts = [(cx, cy - a), (cx + a, cy), (cx, cy + a), (cx - a, cy)]
        }
        let text = pts.map { n($0.0) + "," + n($0.1) }.joined(separator: " ")
        parts.append(closed("<polygon points=\(q(text)) fill=\(q(fill))", title: title))
    }

    mutating func polyline(
        _ points: [(Double, Double)], stroke: String, width: Double = 1.8,
        dash: String? = nil
    ) {
        guard points.count >= 2 else { return }
        let pts = points.map { n($0.0) + "," + n($0.1) }.joined(separator: " ")
        var s = "<polyline points=\(q(pts)) fill=\"none\" stroke=\(q(stroke)) stroke-width=\(q(n(width)))"
        s += " stroke-linejoin=\"round\" stroke-linecap=\"round\""
        if let dash { s += " stroke-dasharray=\(q(dash))" }
        parts.append(s + "/>")
    }

    mutating func circle(
        _ cx: Double, _ cy: Double, r: Double, fill: String,
        stroke: String? = nil, strokeWidth: Double = 1, title: String? = nil
    ) {
        var s = "<circle cx=\(q(n(cx))) cy=\(q(n(cy))) r=\(q(n(r))) fill=\(q(fill))"
        if let stroke { s += " stroke=\(q(stroke)) stroke-width=\(q(n(strokeWidth)))" }
        parts.append(closed(s, title: title))
    }

    /// A text element. `text` must already be a display label (see `Text.label`); it is
    /// escaped here. `rotate` is in degrees about the anchor point.
    mutating func text(
        _ text: String, _ x: Double, _ y: Double, anchor: Anchor = .start,
        size: Double? = nil, bold: Bool = false, fill: String? = nil,
        rotate: Double? = nil, cls: String? = nil
    ) {
        var s = "<text"
        if let cls { s += " class=\(q(cls))" }
        s += " x=\(q(n(x))) y=\(q(n(y)))"
        if anchor != .start { s += " text-anchor=\(q(anchor.rawValue))" }
        if let size { s += " font-size=\(q(n(size)))" }
        if bold { s += " font-weight=\"bold\"" }
        if let fill { s += " fill=\(q(fill))" }
        if let rotate { s += " transform=\(q("rotate(" + n(rotate) + " " + n(x) + " " + n(y) + ")"))" }
        parts.append(s + ">" + Text.escape(text) + "</text>")
    }

    /// Wraps the elements in an `<svg>` root with a white background and an accessible title.
    func document(width: Double, height: Double, title: String, style: Style) -> SVG {
        let w = max(ceil(width), 1), h = max(ceil(height), 1)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""
        s += " width=\(q(n(w))) height=\(q(n(h))) viewBox=\(q("0 0 " + n(w) + " " + n(h)))"
        s += " font-family=\(q(style.fontFamily)) font-size=\(q(n(style.fs))) fill=\"#222222\""
        s += " role=\"img\" aria-label=\(q(Text.label(title)))>\n"
        s += "<title>" + Text.escape(Text.label(title)) + "</title>\n"
        s += "<rect x=\"0\" y=\"0\" width=\(q(n(w))) height=\(q(n(h))) fill=\"#FFFFFF\"/>\n"
        for p in parts { s += p + "\n" }
        s += "</svg>\n"
        return SVG(text: s, width: w, height: h)
    }
}

// Colours: a colour-blind-safe categorical palette and a diverging blue-white-red map.

public enum Palette {
    /// Okabe & Ito's colour-blind-safe palette, reordered so the most distinct colours come
    /// first and the pale yellow (hard to see on white) comes last.
    public static let okabeIto: [String] = [
        "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
    ]

    /// Paul Tol's "muted" qualitative scheme (colour-blind safe, nine hues), ordered so the
    /// palest (sand) comes last. The default: the article's nine candidates each get a hue.
    public static let tolMuted: [String] = [
        "#CC6677", "#332288", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499", "#DDCC77",
    ]

    /// Dash patterns (SVG stroke-dasharray) for the rounds past the palette: series k uses
    /// colour k mod n and dash (k / n) mod 6, so the first 6 n series differ in (colour, dash).
    public static let dashes: [String?] = [nil, "7 3", "2 2", "8 3 2 3", "12 3", "3 4"]

    /// Tableau 10 (2016), an alternative with ten distinct hues.
    public static let tableau10: [String] = [
        "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
        "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
    ]

    /// The ColorBrewer RdBu stops reversed (matplotlib's "RdBu_r"), with a pure white centre
    /// so that zero reads as "nothing".
    static let divergingStops: [(Double, Double, Double)] = [
        (0x05, 0x30, 0x61), (0x21, 0x66, 0xAC), (0x43, 0x93, 0xC3), (0x92, 0xC5, 0xDE),
        (0xD1, 0xE5, 0xF0), (0xFF, 0xFF, 0xFF), (0xFD, 0xDB, 0xC7), (0xF4, 0xA5, 0x82),
        (0xD6, 0x60, 0x4D), (0xB2, 0x18, 0x2B), (0x67, 0x00, 0x1F),
    ]

    /// Fill for missing cells: a neutral grey that the diverging map never produces.
    public static let missing = "#BDBDBD"

    /// The diverging colour for `t` in [-1, 1] (clamped): dark blue, white at 0, dark red.
    public static func diverging(_ t: Double) -> String {
        guard t.isFinite else { return missing }
        let (r, g, b) = divergingRGB(t)
        return hex(r, g, b)
    }

    static func divergingRGB(_ t: Double) -> (Double, Double, Double) {
        let u = (min(max(t, -1), 1) + 1) / 2 * Double(divergingStops.count - 1)
        let i = min(Int(u), divergingStops.count - 2)
        let f = u - Double(i)
        let a = divergingStops[i], b = divergingStops[i + 1]
        return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
    }

    /// True when black text would be hard to read on the diverging colour for `t`.
    static func isDark(_ t: Double) -> Bool {
        guard t.isFinite else { return false }
        let (r, g, b) = divergingRGB(t)
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 < 0.5
    }

    /// `color` ("#RRGGBB") mixed with white by `amount` in [0, 1]; other notations unchanged.
    static func lightened(_ color: String, by amount: Double) -> String {
        guard let (r, g, b) = parseHex(color) else { return color }
        let a = min(max(amount, 0), 1)
        return hex(r + (255 - r) * a, g + (255 - g) * a, b + (255 - b) * a)
    }

    static func parseHex(_ s: String) -> (Double, Double, Double)? {
        let chars = Array(s.utf8)
        guard chars.count == 7, chars[0] == UInt8(ascii: "#"),
            let v = UInt32(String(decoding: chars[1...], as: UTF8.self), radix: 16)
        else { return nil }
        return (Double((v >> 16) & 0xFF), Double((v >> 8) & 0xFF), Double(v & 0xFF))
    }

    static func hex(_ r: Double, _ g: Double, _ b: Double) -> String {
        func byte(_ x: Double) -> String {
            let v = x.isFinite ? Int(min(max(x, 0), 255).rounded()) : 0
            let s = String(v, radix: 16, uppercase: true)
            return v < 16 ? "0" + s : s
        }
        return "#" + byte(r) + byte(g) + byte(b)
    }
}

/// A point marker's shape; later rounds of the palette get other shapes than the circle.
public enum MarkerShape: CaseIterable, Sendable {
    case circle, square, triangle, diamond
}

/// How series number `index` is drawn: palette colours first, then the same colours again
/// with another dash pattern and marker shape (lines) or lightened with an outline (bars), so
/// (colour, dash) differs for the first `palette.count * Palette.dashes.count` series.
struct SeriesLook {
    var color: String
    var dash: String?
    var fill: String
    var marker: MarkerShape
    /// Bars of later rounds get an outline in the base colour, so a lightened fill still
    /// names its hue.
    var outline: String?

    init(index: Int, override: String?, style: Style) {
        let colors = style.colors
        let round = max(index, 0) / colors.count
        let base = override ?? colors[max(index, 0) % colors.count]
        color = base
        let own = override == nil
        dash = own ? Palette.dashes[round % Palette.dashes.count] : nil
        marker = own ? MarkerShape.allCases[round % MarkerShape.allCases.count] : .circle
        fill = own && round > 0 ? Palette.lightened(base, by: min(0.45 * Double(round), 0.8)) : base
        outline = own && round > 0 ? base : nil
    }
}

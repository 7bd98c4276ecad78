// The value types that describe what to draw. Charts are pure functions of these.

/// A width and height in SVG user units (CSS pixels).
public struct Size: Sendable, Equatable {
    public var width: Double
    public var height: Double
    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }
}

extension Size {
    /// This size with each dimension that is not a finite positive number replaced by
    /// `fallback`'s, so no NaN or negative size reaches the layout arithmetic.
    func valid(or fallback: Size) -> Size {
        Size(
            width: width.isFinite && width > 0 ? width : fallback.width,
            height: height.isFinite && height > 0 ? height : fallback.height)
    }
}

/// One named sequence of values, one per category. NaN or infinite values are missing
/// (skipped, never drawn); values past the last category are ignored.
public struct Series: Sendable, Equatable {
    public var name: String
    public var values: [Double]
    /// A fixed CSS colour such as "#0072B2"; nil takes the next palette colour.
    public var color: String?
    public init(name: String, values: [Double], color: String? = nil) {
        self.name = name
        self.values = values
        self.color = color
    }
}

/// One panel of a small-multiples figure: its own categories and series.
public struct Panel: Sendable, Equatable {
    public var title: String
    public var categories: [String]
    public var series: [Series]
    public init(title: String, categories: [String], series: [Series]) {
        self.title = title
        self.categories = categories
        self.series = series
    }
}

/// One panel of a faceted bar chart: one bar per category, optionally one highlighted bar.
public struct BarPanel: Sendable, Equatable {
    public var title: String
    public var categories: [String]
    public var values: [Double]
    /// Index of the bar drawn in the highlight colour with an outline (e.g. the correct answer).
    public var highlight: Int?
    public init(title: String, categories: [String], values: [Double], highlight: Int? = nil) {
        self.title = title
        self.categories = categories
        self.values = values
        self.highlight = highlight
    }
}

/// A labelled point of a scatter plot.
public struct ScatterPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var label: String
    public init(x: Double, y: Double, label: String) {
        self.x = x
        self.y = y
        self.label = label
    }
}

/// How each panel of a small-multiples figure draws its series.
public enum PanelKind: Sendable, Equatable {
    /// One polyline per series over the categories.
    case lines
    /// One bar per series per category (grouped side by side when there are several series).
    case bars
}

/// Fonts and colours shared by every chart. The defaults are the house style.
public struct Style: Sendable, Equatable {
    /// Categorical colours for series, in order. Empty falls back to `Palette.tolMuted`.
    public var palette: [String]
    public var fontFamily: String
    /// Size of tick labels, legends and panel titles; axis labels use it too.
    public var fontSize: Double
    public var titleSize: Double
    /// Labels longer than this many characters are cut and end with "…".
    public var maxLabelLength: Int
    /// Fill of ordinary bars in faceted bar charts.
    public var barColor: String
    /// Fill of the highlighted bar in faceted bar charts.
    public var highlightColor: String

    public init(
        palette: [String] = Palette.tolMuted,
        fontFamily: String = Style.sansSerif,
        fontSize: Double = 12,
        titleSize: Double = 15,
        maxLabelLength: Int = 24,
        barColor: String = "#8C9DAF",
        highlightColor: String = "#D55E00"
    ) {
        self.palette = palette
        self.fontFamily = fontFamily
        self.fontSize = fontSize
        self.titleSize = titleSize
        self.maxLabelLength = maxLabelLength
        self.barColor = barColor
        self.highlightColor = highlightColor
    }

    /// A system sans-serif stack: Helvetica/Arial where present, DejaVu/Liberation on Linux.
    public static let sansSerif =
        "system-ui, -apple-system, 'Segoe UI', 'Helvetica Neue', Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"

    // Guards against a zero or negative font size in a user-supplied style.
    var fs: Double { fontSize > 1 ? fontSize : 12 }
    var ts: Double { titleSize > 1 ? titleSize : 15 }
    var colors: [String] { palette.isEmpty ? Palette.tolMuted : palette }
    var maxChars: Int { max(maxLabelLength, 2) }
}

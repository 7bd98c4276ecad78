// Parses SVG/HTML output as XML and counts what the tests look for.

import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

final class XMLSummary: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var classes: [String: Int] = [:]
    var root: (name: String, attributes: [String: String])?
    /// Text content of every <text> element, in document order.
    var texts: [String] { textElements.map(\.text) }
    /// Every <text> element's attributes and content, in document order.
    var textElements: [(attributes: [String: String], text: String)] = []
    private var textAttributes: [String: String] = [:]
    /// Every element's attributes, in document order.
    var all: [(name: String, attributes: [String: String])] = []
    var failure: String?

    private var textDepth = 0
    private var current = ""

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
        qualifiedName: String?, attributes: [String: String] = [:]
    ) {
        if root == nil { root = (name, attributes) }
        elements[name, default: 0] += 1
        if let cls = attributes["class"] { classes[cls, default: 0] += 1 }
        all.append((name, attributes))
        if name == "text" { textDepth += 1; current = ""; textAttributes = attributes }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if textDepth > 0 { current += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" {
            textDepth -= 1
            textElements.append((textAttributes, current))
        }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        failure = "\(parseError) at line \(parser.lineNumber), column \(parser.columnNumber)"
    }

    func count(_ element: String) -> Int { elements[element] ?? 0 }
    func count(class cls: String) -> Int { classes[cls] ?? 0 }

    /// Elements named `name` with attribute `key` equal to `value`.
    func with(_ name: String, _ key: String, _ value: String) -> [[String: String]] {
        all.filter { $0.name == name && $0.attributes[key] == value }.map(\.attributes)
    }

    /// The parsed document, or nil (with the error recorded in `failure`) if not well-formed.
    static func parse(_ text: String) -> XMLSummary {
        let summary = XMLSummary()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = summary
        if !parser.parse() && summary.failure == nil {
            summary.failure = parser.parserError.map { "\($0)" } ?? "unknown parse failure"
        }
        return summary
    }
}

import Foundation
import XCTest

/// A real browser for the HTML prism writes (the explorer, the study pages).
enum Chromium {
    static var path: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The DOM after the page's scripts ran, as `chromium --headless --dump-dom` prints it;
    /// `profile` holds chromium's profile. Skips the test, saying what went unchecked
    /// (`unopened`), where chromium is not installed.
    static func dumpDOM(_ page: String, profile: String, unopened: String) throws -> String {
        guard let chromium = path else { throw XCTSkip("chromium is not installed (apt-get install chromium): \(unopened)") }
        let r = try CLIRunner.runProcess(
            chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)/chromium-profile", "--dump-dom",
                URL(fileURLWithPath: page).absoluteString,
            ])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }
}

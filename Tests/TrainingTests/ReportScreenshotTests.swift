import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// A real run's `report.html` rendered by headless Chromium (installed by Scripts/bootstrap): the
/// screenshot must have the window's size, plot lines in the plot colour, shaded confusion cells,
/// and text from the top of the page to its end — a blank, unstyled or cut-off report fails.
final class ReportScreenshotTests: XCTestCase {
    static func chromium() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        }
        return nil
    }

    func testARealRunsReportRendersWithPlotsTablesAndText() throws {
        guard let browser = Self.chromium() else {
            return XCTFail("chromium not found on PATH: run Scripts/bootstrap (it installs the apt package chromium)")
        }
        let run = try SyntheticRun(items: 32)
        defer { run.cleanup() }
        // A labelled evaluation set (the training colours as classes) for the zero-shot sections.
        let classes = SyntheticRun.colors.map(\.0)
        let evalFolder = run.root.appendingPathComponent("eval")
        try FileManager.default.createDirectory(at: evalFolder, withIntermediateDirectories: true)
        let writer = ShardWriter(path: evalFolder.appendingPathComponent("shard-00000.h5").path, classnames: classes)
        for i in 0..<16 {
            let rgb = SyntheticRun.colors[i % classes.count].1
            let pixels = (0..<(16 * 16)).flatMap { p in (p / 16) % 4 < 2 ? rgb : [10, 10, 10] }
            try writer.append(ShardItem(image: .raw(RGBImage(height: 16, width: 16, pixels: pixels)), caption: "a \(classes[i % classes.count]) stripe.", label: i % classes.count))
        }
        _ = try writer.finish()
        let eval = "eval: {zeroshot: {dataset: \(evalFolder.path), every_steps: 4, limit: 8}}"
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 12, every: 6, extra: eval)), log: { _ in })
        _ = try trainer.run()
        let report = run.root.appendingPathComponent("runs/test/report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        XCTAssertTrue(html.contains("top-1, 8 images") && html.contains("top-1, 16 images"), "one series per evaluated subset")

        let shot = run.root.appendingPathComponent("report.png")
        let (width, height) = (1280, 2400)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                             "--user-data-dir=\(run.root.appendingPathComponent("chromium-profile").path)",
                             "--screenshot=\(shot.path)", "--window-size=\(width),\(height)", report.absoluteString]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { process.terminate(); return XCTFail("chromium did not finish the screenshot in 120 s") }
        let image = try PNG.decode(try Data(contentsOf: shot))
        XCTAssertEqual([image.width, image.height], [width, height])

        var plotBlue = 0, shaded = 0, darkRows = Set<Int>()
        for y in 0..<image.height {
            for x in 0..<image.width {
                let i = (y * image.width + x) * 3
                let (r, g, b) = (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]))
                if abs(r - 31) < 30 && abs(g - 119) < 30 && abs(b - 180) < 30 { plotBlue += 1 }
                if (r > g + 30 && r > b + 30) || (g > r + 30 && g > b + 30) { shaded += 1 }
                if r < 90 && g < 90 && b < 90 { darkRows.insert(y / 100) }
            }
        }
        XCTAssertGreaterThan(plotBlue, 2000, "plot lines and accuracy bars in #1f77b4")
        XCTAssertGreaterThan(shaded, 500, "the confusion matrix's green/red cells and the red top-5 lines")
        // Text (dark pixels) in the title band and in most 100-pixel bands down to the config at the end.
        XCTAssertTrue(darkRows.contains(0), "the title")
        XCTAssertGreaterThan(darkRows.count, height / 100 / 2, "text down the page: \(darkRows.sorted())")
    }
}

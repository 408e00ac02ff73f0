import DataPipeline
import Foundation
import XCTest

final class SceneTests: XCTestCase {
    /// A pixel that belongs to an object: every palette color has a channel ≥ 200, backgrounds stay ≤ 100.
    private func isObjectPixel(_ p: (r: UInt8, g: UInt8, b: UInt8)) -> Bool { max(p.r, p.g, p.b) >= 150 }

    private func assertPixel(_ image: RGBImage, _ y: Int, _ x: Int, _ rgb: (UInt8, UInt8, UInt8),
                             _ message: String, line: UInt = #line) {
        let p = image[y, x]
        XCTAssertTrue(p.r == rgb.0 && p.g == rgb.1 && p.b == rgb.2, "(\(y), \(x)) is \(p), expected \(rgb): \(message)",
                      line: line)
    }

    func testHandCheckedScene() throws {
        // 63 pixels: cells are 21 pixels wide, centered at 10.5, 31.5 and 52.5.
        let scene = Scene(background: .plain, backgroundRGB: [60, 60, 60], objects: [
            SceneObject(.large, .red, .circle, cell: 0),
            SceneObject(.small, .blue, .square, cell: 4),
            SceneObject(.large, .green, .ring, cell: 8),
        ])
        XCTAssertEqual(scene.longCaption,
                       "A large red circle at the top left. A small blue square in the center. A large green ring at the bottom right.")
        XCTAssertEqual(scene.shortCaption, "A large red circle at the top left.")
        let image = scene.render(size: 63)
        XCTAssertEqual(image.height, 63)
        let background: (UInt8, UInt8, UInt8) = (60, 60, 60)
        // Large circle: radius 0.39 · 21 ≈ 8.2 around (10.5, 10.5); filled center and edge, empty corner.
        assertPixel(image, 10, 10, (220, 40, 40), "circle center")
        assertPixel(image, 10, 4, (220, 40, 40), "circle, 6 pixels left of the center")
        assertPixel(image, 3, 3, background, "outside the circle, in its bounding box's corner")
        // Small square: half side 0.82 · 0.21 · 21 ≈ 3.6 around (31.5, 31.5); filled up to its corners.
        assertPixel(image, 31, 31, (40, 80, 230), "square center")
        assertPixel(image, 28, 28, (40, 80, 230), "square corner")
        assertPixel(image, 31, 25, background, "left of the square")
        // Large ring: hollow center, filled at 6 pixels from the center.
        assertPixel(image, 52, 52, background, "ring center")
        assertPixel(image, 58, 52, (50, 180, 60), "ring, 6 pixels below the center")
        // Empty cells are background only.
        for cell in [1, 2, 3, 5, 6, 7] {
            let (y0, x0) = (cell / 3 * 21, cell % 3 * 21)
            for y in y0..<(y0 + 21) {
                for x in x0..<(x0 + 21) where isObjectPixel(image[y, x]) {
                    XCTFail("object pixel at (\(y), \(x)) in empty cell \(cell)")
                }
            }
        }
    }

    func testOffsetsMoveObjectsWithinTheirCell() {
        let centered = Scene(objects: [SceneObject(.small, .white, .diamond, cell: 4)]).render(size: 63)
        let moved = Scene(objects: [SceneObject(.small, .white, .diamond, cell: 4, offsetX: 1, offsetY: -1)]).render(size: 63)
        assertPixel(centered, 31, 31, (245, 245, 245), "centered diamond")
        // Room = 0.8 · (10.5 − 4.41) ≈ 4.9 pixels: right and up.
        assertPixel(moved, 26, 36, (245, 245, 245), "moved diamond's center")
        assertPixel(moved, 31, 31, (60, 60, 60), "the cell's center after the move")
        for y in 0..<63 {
            for x in 0..<63 where isObjectPixel(moved[y, x]) {
                XCTAssertTrue((21..<42).contains(y) && (21..<42).contains(x), "(\(y), \(x)) left cell 4")
            }
        }
    }

    /// Reads each sentence of a long caption back as (size, color name, cell).
    private func parse(_ caption: String) throws -> [(size: String, color: String, cell: Int)] {
        let sentences = caption.components(separatedBy: ". ").map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
        return try sentences.map { sentence in
            let words = sentence.split(separator: " ", maxSplits: 4).map(String.init)
            XCTAssertEqual(words.count, 5, sentence)
            XCTAssertEqual(words[0], "A", sentence)
            let cell = try XCTUnwrap(SceneObject.cellPhrases.firstIndex(of: words[4]), sentence)
            return (words[1], words[2], cell)
        }
    }

    func testGeneratedCaptionsMatchTheDrawnObjects() throws {
        let source = ScenesSource(count: 300, seed: 3)
        var objectCounts = Set<Int>(), backgrounds = Set<String>()
        for i in 0..<source.count {
            let scene = source.scene(at: i)
            backgrounds.insert(scene.background.rawValue)
            let image = scene.render(size: 64)
            XCTAssertEqual(scene.longCaption.components(separatedBy: ". ").first.map { $0.hasSuffix(".") ? $0 : $0 + "." },
                           scene.shortCaption, "short caption = first sentence")
            let described = try parse(scene.longCaption)
            objectCounts.insert(described.count)
            XCTAssertEqual(described.map(\.cell), described.map(\.cell).sorted(), "reading order: \(scene.longCaption)")
            // Grid cells of a 64-pixel image: pixel p is in column p·3/64.
            var bright = [Int](repeating: 0, count: 9)
            var exact = [Int](repeating: 0, count: 9)
            var extent = [(x: Int, y: Int, x1: Int, y1: Int)](repeating: (Int.max, Int.max, -1, -1), count: 9)
            let colors = Dictionary(uniqueKeysWithValues: described.map { ($0.cell, try! XCTUnwrap(SceneObject.Color(rawValue: $0.color)).rgb) })
            for y in 0..<64 {
                for x in 0..<64 {
                    let cell = (y * 3 / 64) * 3 + x * 3 / 64
                    let p = image[y, x]
                    guard isObjectPixel(p) else { continue }
                    bright[cell] += 1
                    extent[cell] = (min(extent[cell].x, x), min(extent[cell].y, y), max(extent[cell].x1, x), max(extent[cell].y1, y))
                    if let c = colors[cell], p.r == c.r && p.g == c.g && p.b == c.b { exact[cell] += 1 }
                }
            }
            for cell in 0..<9 {
                guard let object = described.first(where: { $0.cell == cell }) else {
                    XCTAssertEqual(bright[cell], 0, "scene \(i): object pixels in cell \(cell), not in \"\(scene.longCaption)\"")
                    continue
                }
                XCTAssertGreaterThan(exact[cell], 0, "scene \(i): no \(object.color) pixel in cell \(cell)")
                let span = max(extent[cell].x1 - extent[cell].x, extent[cell].y1 - extent[cell].y) + 1
                if object.size == "large" {
                    XCTAssertGreaterThanOrEqual(span, 12, "scene \(i) cell \(cell): \"\(scene.longCaption)\"")
                } else {
                    XCTAssertLessThanOrEqual(span, 10, "scene \(i) cell \(cell): \"\(scene.longCaption)\"")
                }
            }
        }
        XCTAssertEqual(objectCounts, [2, 3, 4])
        XCTAssertEqual(backgrounds.count, 4)
    }

    private func contents(_ path: String) throws -> [ShardItem] {
        let dataset = try ShardDataset(path: path)
        return try (0..<dataset.count).map { try dataset.item(at: $0) }
    }

    func testShardsAreDeterministicAndIndependentOfTheShardSize() throws {
        let dir = try temporaryDirectory(self)
        let summary = try buildShards(from: ScenesSource(count: 12, seed: 5, imageSize: 32), output: dir + "/a", shardSize: 5)
        XCTAssertEqual(summary.shards, ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"])
        try buildShards(from: ScenesSource(count: 12, seed: 5, imageSize: 32), output: dir + "/b", shardSize: 5)
        try buildShards(from: ScenesSource(count: 12, seed: 5, imageSize: 32), output: dir + "/c", shardSize: 100)
        try buildShards(from: ScenesSource(count: 12, seed: 6, imageSize: 32), output: dir + "/d", shardSize: 100)
        let a = try contents(dir + "/a")
        XCTAssertEqual(a.count, 12)
        XCTAssertEqual(a, try contents(dir + "/b"))
        XCTAssertEqual(a, try contents(dir + "/c"))
        XCTAssertNotEqual(a.map(\.caption), try contents(dir + "/d").map(\.caption))
        let source = ScenesSource(count: 12, seed: 5, imageSize: 32)
        for (i, item) in a.enumerated() {
            let scene = source.scene(at: i)
            XCTAssertEqual(item, ShardItem(image: .raw(scene.render(size: 32)), caption: scene.shortCaption,
                                           longCaption: scene.longCaption))
            XCTAssertTrue(item.longCaption!.hasPrefix(item.caption + " "), "\(item.caption) | \(item.longCaption!)")
        }
        XCTAssertNil(try ShardDataset(path: dir + "/a").classnames)
        XCTAssertThrowsError(try buildShards(from: ScenesSource(count: 3, imageSize: 16), output: dir + "/e", shardSize: 5)) {
            XCTAssertEqual("\($0)", "--image-size must be at least 24, got 16")
        }
    }

    func testLoaderGivesShortTokensAndLongCaptions() throws {
        let dir = try temporaryDirectory(self)
        try buildShards(from: ScenesSource(count: 4, seed: 1), output: dir, shardSize: 10)
        let loader = try DataLoader(
            dataset: try ShardDataset(path: dir),
            configuration: DataLoaderConfiguration(batchSize: 4, imageSize: 32, contextLength: 8, longContextLength: 40,
                                                   mode: .eval),
            tokenizer: wordTokenizer(contextLength: 8), longTokenizer: wordTokenizer(contextLength: 40))
        let batch = try XCTUnwrap(try loader.next())
        let source = ScenesSource(count: 4, seed: 1)
        XCTAssertEqual(batch.captions, (0..<4).map { source.scene(at: $0).shortCaption })
        XCTAssertEqual(batch.longCaptions, (0..<4).map { source.scene(at: $0).longCaption })
        XCTAssertEqual(batch.longTokens?.count, 4 * 40)
    }
}

import DataPipeline
import Foundation
import XCTest

/// PNG decoding against PIL's decoding of every kind of PNG (`Scripts/make-png-fixtures.py`).
final class PNGTests: XCTestCase {
    private struct Expected: Decodable {
        var height: Int
        var width: Int
        var mode: String
        var rgb: [UInt8]
    }

    private func png(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath("png/" + name))))
    }

    private func expectations() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath("png/expected.json"))))
    }

    func testEveryKindOfPNGDecodesExactlyAsPILWithAlphaOnWhite() throws {
        let expected = try expectations()
        XCTAssertEqual(expected.count, 15)
        for (name, want) in expected.sorted(by: { $0.key < $1.key }) {
            let bytes = try png(name)
            XCTAssertEqual(EncodedImage.format(of: bytes), .png, name)
            let image = try PNG.decode(bytes)
            XCTAssertEqual(image.height, want.height, name)
            XCTAssertEqual(image.width, want.width, name)
            XCTAssertEqual(image.pixels, want.rgb, "\(name) (\(want.mode))")
            XCTAssertEqual(try ShardImage.jpeg(bytes).decoded(), image, name)
        }
    }

    func testTransparencyIsCompositedOnWhite() throws {
        // The fixture script makes the first pixel of rgba8.png fully transparent: white, whatever its color.
        let image = try PNG.decode(try png("rgba8.png"))
        XCTAssertTrue(image[0, 0] == (255, 255, 255))
    }

    func testCorruptAndTruncatedPNGsAreErrorsNotCrashes() throws {
        for name in ["corrupt-crc.png", "corrupt-truncated.png"] {
            XCTAssertThrowsError(try PNG.decode(try png(name)), name) { error in
                XCTAssertTrue("\(error)".hasPrefix("corrupt PNG: "), "\(error)")
            }
        }
        let good = try png("rgba8-interlaced.png")
        for length in stride(from: 0, to: good.count, by: 7) + [good.count - 1] {
            XCTAssertThrowsError(try EncodedImage.decode(Array(good.prefix(length))), "prefix \(length)")
        }
        XCTAssertThrowsError(try EncodedImage.decode(Array("GIF89a......".utf8))) { error in
            XCTAssertEqual("\(error)", "not a JPEG or PNG image")
        }
    }

    func testImageFolderKeepsPNGBytesAndSkipsCorruptOnes() throws {
        let dir = try temporaryDirectory(self)
        let names = ["gray16.png", "palette-trns.png", "rgba8-interlaced.png"]
        for folder in ["cat", "dog"] { try FileManager.default.createDirectory(atPath: "\(dir)/in/\(folder)", withIntermediateDirectories: true) }
        for name in names { try Data(try png(name)).write(to: URL(fileURLWithPath: "\(dir)/in/cat/\(name)")) }
        try Data(try png("corrupt-crc.png")).write(to: URL(fileURLWithPath: "\(dir)/in/dog/bad.png"))
        try Data(try JPEG.encode(syntheticImage(height: 8, width: 8, seed: 1))).write(to: URL(fileURLWithPath: "\(dir)/in/dog/ok.jpg"))

        let summary = try buildShards(from: ImageFolderSource(root: dir + "/in"), output: dir + "/out", shardSize: 10)
        XCTAssertEqual(summary.items, 4)
        XCTAssertEqual(summary.skipped.count, 1)
        XCTAssertTrue(summary.skipped.items[0].source.hasSuffix("dog/bad.png"))
        XCTAssertTrue(summary.skipped.items[0].why.description.hasPrefix("corrupt PNG: "), summary.skipped.items[0].why.description)

        let dataset = try ShardDataset(path: dir + "/out")
        let expected = try expectations()
        for (i, name) in names.sorted().enumerated() {
            XCTAssertEqual(try dataset.item(at: i).image, .jpeg(try png(name)))
            XCTAssertEqual(try dataset.item(at: i).image.decoded().pixels, expected[name]!.rgb, name)
        }
    }

    func testCSVReadsPNGIntoRawStorage() throws {
        let dir = try temporaryDirectory(self)
        try Data(try png("gray-trns.png")).write(to: URL(fileURLWithPath: dir + "/a.png"))  // 5 × 5: stored unresized
        try Data(try png("corrupt-truncated.png")).write(to: URL(fileURLWithPath: dir + "/b.png"))
        try "filepath,title\na.png,gray with a transparent level\nb.png,truncated\n".write(toFile: dir + "/t.csv", atomically: true, encoding: .utf8)
        var source = CSVSource(path: dir + "/t.csv")
        source.format = .raw(size: 5)
        let summary = try buildShards(from: source, output: dir + "/out", shardSize: 10)
        XCTAssertEqual(summary.items, 1)
        XCTAssertEqual(summary.skipped.items.map(\.source), ["\(dir)/t.csv row 3 (b.png)"])
        XCTAssertEqual(try ShardDataset(path: dir + "/out").item(at: 0).image,
                       .raw(RGBImage(height: 5, width: 5, pixels: try expectations()["gray-trns.png"]!.rgb)))
    }

    func testLoaderDecodesPNGAndSkipsCorruptPNG() throws {
        let dir = try temporaryDirectory(self)
        let writer = ShardWriter(path: dir + "/p.h5")
        for name in ["rgb8.png", "corrupt-truncated.png", "gray8.png"] {
            try writer.append(ShardItem(image: .jpeg(try png(name)), caption: "a \(name)"))
        }
        try writer.finish()
        let loader = try DataLoader(
            dataset: try ShardDataset(path: dir),
            configuration: DataLoaderConfiguration(batchSize: 2, imageSize: 4, contextLength: 8,
                                                   augmentation: Augmentation(normalization: .unit), mode: .eval),
            tokenizer: wordTokenizer(contextLength: 8), log: { _ in })
        let batch = try XCTUnwrap(try loader.next())
        XCTAssertEqual(batch.indices, [0, 2])
        XCTAssertEqual(loader.skippedItems.map(\.index), [1])
        XCTAssertTrue(loader.skippedItems[0].reason.hasPrefix("corrupt PNG: "), loader.skippedItems[0].reason)
    }
}

import DataPipeline
import Foundation
import XCTest

final class JPEGTests: XCTestCase {
    func testEncodeDecodeRoundTrip() throws {
        let image = syntheticImage(height: 37, width: 53, seed: 3)
        let bytes = try JPEG.encode(image, quality: 95)
        XCTAssertTrue(JPEG.hasSignature(bytes))
        let decoded = try JPEG.decode(bytes)
        XCTAssertEqual(decoded.height, 37)
        XCTAssertEqual(decoded.width, 53)
        // Lossy, but close: mean absolute error of a few levels at quality 95.
        let error = zip(image.pixels, decoded.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)
        XCTAssertLessThan(Double(error) / Double(image.pixels.count), 4)
        // Decoding is deterministic.
        XCTAssertEqual(try JPEG.decode(bytes), decoded)
    }

    func testConstantColourSurvives() throws {
        let image = RGBImage(height: 16, width: 16, filledWith: (200, 40, 90))
        let decoded = try JPEG.decode(try JPEG.encode(image, quality: 100))
        for i in stride(from: 0, to: decoded.pixels.count, by: 3) {
            XCTAssertEqual(Int(decoded.pixels[i]), 200, accuracy: 2)
            XCTAssertEqual(Int(decoded.pixels[i + 1]), 40, accuracy: 2)
            XCTAssertEqual(Int(decoded.pixels[i + 2]), 90, accuracy: 2)
        }
    }

    func testTruncatedAndGarbageAreErrors() throws {
        let bytes = try JPEG.encode(syntheticImage(height: 64, width: 64, seed: 1), quality: 90)
        XCTAssertThrowsError(try JPEG.decode(Array(bytes.prefix(bytes.count / 2)))) { error in
            XCTAssertTrue("\(error)".hasPrefix("corrupt JPEG"), "\(error)")
        }
        XCTAssertThrowsError(try JPEG.decode(Array(bytes.prefix(10))))
        XCTAssertThrowsError(try JPEG.decode([UInt8](repeating: 0x42, count: 100)))
        XCTAssertThrowsError(try JPEG.decode([UInt8]()))
        var flipped = bytes
        for i in stride(from: bytes.count / 3, to: bytes.count - 2, by: 7) { flipped[i] ^= 0x5A }
        // Random corruption must never crash; it either throws or decodes something.
        _ = try? JPEG.decode(flipped)
        // Lenient mode accepts a truncated stream (libjpeg pads it).
        XCTAssertNoThrow(try JPEG.decode(Array(bytes.prefix(bytes.count / 2)), strict: false))
    }

    func testGrayscaleFixtureDecodesToRGB() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixturePath("gray.jpg")))
        let image = try JPEG.decode(bytes)
        XCTAssertEqual(image.height, 8)
        XCTAssertEqual(image.width, 12)
        for i in 0..<(8 * 12) {
            XCTAssertEqual(image.pixels[3 * i], image.pixels[3 * i + 1])
            XCTAssertEqual(image.pixels[3 * i], image.pixels[3 * i + 2])
        }
    }

    private struct PixelReference: Decodable { var height: Int; var width: Int; var pixels: [Int] }

    /// CMYK JPEGs (Adobe's inverted convention, as PIL and Photoshop write them) decode to the RGB that
    /// PIL's `convert("RGB")` gives (Scripts/make-cmyk-fixture.py); web-scraped sets contain them.
    func testCMYKDecodesToPILsRGB() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixturePath("cmyk.jpg")))
        let reference = try JSONDecoder().decode(
            PixelReference.self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath("cmyk-rgb.json"))))
        let image = try JPEG.decode(bytes)
        XCTAssertEqual(image.height, reference.height)
        XCTAssertEqual(image.width, reference.width)
        let worst = zip(image.pixels, reference.pixels).map { abs(Int($0) - $1) }.max()!
        XCTAssertLessThanOrEqual(worst, 1)
        // Not a constant image: the fixture spans the conversion's range.
        XCTAssertGreaterThan(Set(reference.pixels).count, 50)
    }
}

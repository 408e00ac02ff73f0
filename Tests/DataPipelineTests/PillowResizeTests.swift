import DataPipeline
import Foundation
import TensorCore
import XCTest

/// The resampler against Pillow's `Image.resize` (Fixtures/pil-resize-cases.bin, made by
/// Scripts/make-resize-fixtures.py): the same uint8 pixels, exactly, over many odd sizes — shrinking
/// (antialiased), enlarging, mixed, 1-pixel, identity — for bilinear and bicubic, whole images and
/// crop boxes (`crop` then `resize`, as torchvision's `resized_crop` on PIL images).
final class PillowResizeTests: XCTestCase {
    private struct Header: Decodable {
        struct Source: Decodable { var name: String; var height: Int; var width: Int; var offset: Int }
        var format: String
        var version: Int
        var pillowVersion: String
        var sources: [Source]
        /// [source, filter, top, left, box height, box width, height, width, offset]
        var cases: [[Value]]
        enum CodingKeys: String, CodingKey { case format, version, pillowVersion = "pillow_version", sources, cases }
    }

    private enum Value: Decodable {
        case int(Int), string(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
        }
        var int: Int { if case .int(let i) = self { return i }; fatalError("expected an integer, got \(self)") }
        var string: String { if case .string(let s) = self { return s }; fatalError("expected a string, got \(self)") }
    }

    private struct Case {
        var source: Int, filter: ResizeFilter, box: CropBox, height: Int, width: Int
        var expected: [UInt8]
    }

    /// The sources as images and every case with Pillow's pixels.
    private func load() throws -> (header: Header, sources: [RGBImage], cases: [Case]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturePath("pil-resize-cases.bin")))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONDecoder().decode(Header.self, from: data.subdata(in: 8..<(8 + headerLength)))
        XCTAssertEqual(header.format, "swiftclip-resize-fixture")
        XCTAssertEqual(header.version, 1)
        let pixels = [UInt8](data.suffix(from: 8 + headerLength))
        func bytes(_ offset: Int, _ count: Int) -> [UInt8] { Array(pixels[offset..<(offset + count)]) }
        let sources = header.sources.map { s in
            RGBImage(height: s.height, width: s.width, pixels: bytes(s.offset, s.height * s.width * 3))
        }
        let cases = header.cases.map { c in
            Case(source: c[0].int, filter: ResizeFilter(rawValue: c[1].string)!,
                 box: CropBox(top: c[2].int, left: c[3].int, height: c[4].int, width: c[5].int),
                 height: c[6].int, width: c[7].int, expected: bytes(c[8].int, c[6].int * c[7].int * 3))
        }
        return (header, sources, cases)
    }

    func testResizeGivesPillowsPixelsExactly() throws {
        let (header, sources, cases) = try load()
        XCTAssertGreaterThan(cases.count, 200)
        var worst: (difference: Float, label: String) = (0, ""), mismatched = 0, total = 0
        for c in cases {
            let ours = ImageTransforms.resizedCrop(sources[c.source], box: c.box, height: c.height, width: c.width,
                                                   filter: c.filter)
            let differences = zip(ours, c.expected).map { abs($0 - Float($1)) }
            let off = differences.filter { $0 != 0 }.count
            let label = "\(header.sources[c.source].name) box \(c.box) → \(c.height)×\(c.width) \(c.filter)"
            if off > 0 { XCTFail("\(label): \(off) of \(ours.count) values differ, by up to \(differences.max()!)") }
            if differences.max()! > worst.difference { worst = (differences.max()!, label) }
            mismatched += off
            total += ours.count
        }
        print("Pillow \(header.pillowVersion): \(cases.count) resizes, \(mismatched) of \(total) values differ, "
              + "max |Δ| \(worst.difference) (\(worst.label))")
    }

    /// The evaluation geometry (shortest side, then a centered window) and the fused flip and affine
    /// map are exact on top of the resampler: the window of the full resize, mirrored, mapped.
    func testWindowFlipAndAffineReuseTheSamePixels() throws {
        let (_, sources, cases) = try load()
        let affine = Normalization.openAI.affine
        for c in cases where c.height > 2 && c.width > 2 {
            let window = CropBox(top: 1, left: c.width / 3, height: c.height - 2, width: c.width - c.width / 3 - 1)
            let got = [Float](unsafeUninitializedCapacity: window.height * window.width * 3) { buffer, count in
                resample(sources[c.source], box: c.box, resizedHeight: c.height, resizedWidth: c.width, window: window,
                         filter: c.filter, flip: true, affine: affine, into: buffer)
                count = window.height * window.width * 3
            }
            var expected: [Float] = []
            for y in 0..<window.height {
                for x in 0..<window.width {
                    let source = ((window.top + y) * c.width + window.left + window.width - 1 - x) * 3
                    let v = SIMD4<Float>(Float(c.expected[source]), Float(c.expected[source + 1]), Float(c.expected[source + 2]), 0)
                        * affine.scale + affine.offset
                    expected += [v[0], v[1], v[2]]
                }
            }
            XCTAssertEqual(got, expected, "\(c.box) → \(c.height)×\(c.width) \(c.filter), window \(window)")
        }
    }

    /// Training's random resized crop is `crop` + Pillow's `resize` of the sampled box (torchvision's
    /// `RandomResizedCrop` on a PIL image), through the same resampler as the cases above.
    func testRandomResizedCropIsCropThenPillowResize() throws {
        let (_, sources, _) = try load()
        let augmentation = Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.3...1.0), filter: .bicubic)
        for (index, image) in sources.enumerated() {
            for seed in 0..<5 {
                var rng = RandomGenerator(seed: UInt64(100 * index + seed)), replay = rng
                let got = [Float](unsafeUninitializedCapacity: 17 * 17 * 3) { buffer, count in
                    augmentation.apply(to: image, size: 17, training: true, using: &rng, into: buffer)
                    count = 17 * 17 * 3
                }
                let box = augmentation.randomResizedCrop!.sampleBox(height: image.height, width: image.width, using: &replay)
                XCTAssertEqual(got, ImageTransforms.resizedCrop(image, box: box, height: 17, width: 17, filter: .bicubic,
                                                                affine: Normalization.openAI.affine), "\(box)")
            }
        }
    }
}

import DataPipeline
import Foundation
import TensorCore
import XCTest

final class ResizeTests: XCTestCase {
    /// One channel of a horizontal ramp v(x) = a + b·x, replicated to RGB.
    private func ramp(height: Int, width: Int, a: Float, b: Float) -> RGBImage {
        var pixels: [UInt8] = []
        for _ in 0..<height { for x in 0..<width { pixels += Array(repeating: UInt8(a + b * Float(x)), count: 3) } }
        return RGBImage(height: height, width: width, pixels: pixels)
    }

    func testConstantImageStaysConstant() {
        let image = RGBImage(height: 13, width: 17, filledWith: (10, 128, 250))
        for filter in ResizeFilter.allCases {
            for (h, w) in [(5, 7), (13, 17), (30, 41), (1, 1)] {
                let out = ImageTransforms.resize(image, height: h, width: w, filter: filter)
                for i in 0..<(h * w) {
                    XCTAssertEqual(out[3 * i], 10, accuracy: 1e-3)
                    XCTAssertEqual(out[3 * i + 1], 128, accuracy: 1e-3)
                    XCTAssertEqual(out[3 * i + 2], 250, accuracy: 1e-3)
                }
            }
        }
    }

    func testSameSizeIsIdentity() {
        let image = syntheticImage(height: 9, width: 11, seed: 5)
        for filter in ResizeFilter.allCases {
            XCTAssertEqual(ImageTransforms.resize(image, height: 9, width: 11, filter: filter), image.pixels.map(Float.init))
        }
    }

    func testBilinearUpsampleOfRampIsExact() {
        // v(x) = 10 + 20x; upsampling 8 → 20: output x samples the input at c = (x + ½)·0.4 − ½,
        // so the interior (where both neighbours exist) is exactly 10 + 20c.
        let image = ramp(height: 3, width: 8, a: 10, b: 20)
        let out = ImageTransforms.resize(image, height: 3, width: 20, filter: .bilinear)
        for x in 0..<20 {
            let c = (Float(x) + 0.5) * 0.4 - 0.5
            guard c >= 0 && c <= 7 else { continue }
            for y in 0..<3 { XCTAssertEqual(out[(y * 20 + x) * 3], 10 + 20 * c, accuracy: 1e-3, "x = \(x)") }
        }
    }

    func testBilinearDownsampleOfRampIsExactInside() {
        // 2× shrink: symmetric weights [1, 3, 3, 1]/8 around the output centre 2x + 1 keep a linear ramp,
        // then rounded to 8 bits (the ramp's values there end in .5: within ½ either way).
        let image = ramp(height: 2, width: 16, a: 3, b: 15)
        let out = ImageTransforms.resize(image, height: 2, width: 8, filter: .bilinear)
        for x in 1..<7 { XCTAssertEqual(out[x * 3], 3 + 15 * (2 * Float(x) + 0.5), accuracy: 0.5) }
    }

    func testTwoTimesDownsampleKnownValues() {
        // Row [0, 80, 160, 240]: PIL-style antialiased bilinear 4 → 2 uses weights (clipped at the border)
        // x=0: centre 1 → pixels 0,1,2 with 0.75, 0.75, 0.25 → (0·.75 + 80·.75 + 160·.25)/1.75 = 57.142857
        // x=1: centre 3 → pixels 1,2,3 with 0.25, 0.75, 0.75 → (80·.25 + 160·.75 + 240·.75)/1.75 = 182.857143
        // — rounded to 8 bits, as Pillow.
        let image = RGBImage(height: 1, width: 4, pixels: [0, 80, 160, 240].flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
        let out = ImageTransforms.resize(image, height: 1, width: 2, filter: .bilinear)
        XCTAssertEqual(out[0], 57)
        XCTAssertEqual(out[3], 183)
        // Bicubic (a = −0.5) 4 → 2: support 4 covers all pixels; weights f((i + ½ − c)/2) normalized.
        func cubic(_ x: Double) -> Double {
            let x = abs(x), a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
        let bicubic = ImageTransforms.resize(image, height: 1, width: 2, filter: .bicubic)
        for (o, centre) in [(0, 1.0), (1, 3.0)] {
            let w = (0..<4).map { cubic((Double($0) + 0.5 - centre) / 2) }
            let expected = zip(w, [0.0, 80, 160, 240]).map(*).reduce(0, +) / w.reduce(0, +)
            XCTAssertEqual(Double(bicubic[o * 3]), min(255, max(0, expected)).rounded())
        }
    }

    func testFlipAndNormalize() {
        let image = syntheticImage(height: 6, width: 5, seed: 9)
        let flipped = ImageTransforms.horizontalFlip(image)
        XCTAssertEqual(ImageTransforms.horizontalFlip(flipped), image)
        XCTAssertTrue(flipped[2, 0] == image[2, 4])
        // The fused flip in resizedCrop matches flipping first.
        let a = ImageTransforms.resizedCrop(image, box: .full(height: 6, width: 5), height: 6, width: 5, flip: true)
        XCTAssertEqual(a, flipped.pixels.map(Float.init))
        let normalized = ImageTransforms.normalize(image)
        let m = Normalization.openAI
        for c in 0..<3 {
            XCTAssertEqual(normalized[c], (Float(image.pixels[c]) / 255 - m.mean[c]) / m.std[c], accuracy: 1e-5)
        }
    }

    func testCropThenResizeEqualsResizedCrop() {
        let image = syntheticImage(height: 20, width: 30, seed: 2)
        let box = CropBox(top: 3, left: 7, height: 11, width: 15)
        var cropped: [UInt8] = []
        for y in box.top..<(box.top + box.height) {
            cropped += image.pixels[((y * 30 + box.left) * 3)..<((y * 30 + box.left + box.width) * 3)]
        }
        let crop = RGBImage(height: 11, width: 15, pixels: cropped)
        XCTAssertEqual(ImageTransforms.resizedCrop(image, box: box, height: 8, width: 9),
                       ImageTransforms.resize(crop, height: 8, width: 9))
    }

    /// The evaluation transform's resize modes (OpenCLIP's `resize_mode`): `longest` keeps the
    /// aspect ratio and pads with the fill color, centered; `squash` ignores the aspect ratio.
    func testLongestAndSquashResizeModes() {
        func evaluate(_ image: RGBImage, size: Int, _ augmentation: Augmentation) -> [Float] {
            var rng = RandomGenerator(seed: 0)
            return [Float](unsafeUninitializedCapacity: size * size * 3) { buffer, count in
                augmentation.apply(to: image, size: size, training: false, using: &rng, into: buffer)
                count = size * size * 3
            }
        }
        // 2 × 4 into 4 × 4: no resampling (the long side already fits), one fill row above and below.
        let wide = syntheticImage(height: 2, width: 4, seed: 3)
        let longest = Augmentation(randomResizedCrop: nil, normalization: .unit, resizeMode: .longest, fill: 51)
        let unit = 1 / Float(255)   // Normalization.unit's scale: v · (1 / 255), as the loader computes it
        let fill = [Float](repeating: 51 * unit, count: 4 * 3)
        XCTAssertEqual(evaluate(wide, size: 4, longest), fill + wide.pixels.map { Float($0) * unit } + fill)
        // 3 × 2 into 4 × 4: each side round(side · 4 / 3) = 5.33 → 4 rows, 2.67 → 3 columns; left padding ⌊1 / 2⌋ = 0.
        XCTAssertEqual(ImageTransforms.longestSideGeometry(height: 3, width: 2, size: 4), CropBox(top: 0, left: 0, height: 4, width: 3))
        XCTAssertEqual(ImageTransforms.longestSideGeometry(height: 300, width: 451, size: 224),
                       CropBox(top: 37, left: 0, height: 149, width: 224))   // round(300 · 224 / 451) = round(148.99)
        let tall = RGBImage(height: 3, width: 2, filledWith: (200, 100, 0))
        let padded = evaluate(tall, size: 4, longest)
        for y in 0..<4 { for x in 0..<4 {
            let expected: [Float] = x < 3 ? [200 / 255, 100 / 255, 0] : [0.2, 0.2, 0.2]
            for c in 0..<3 { XCTAssertEqual(padded[(y * 4 + x) * 3 + c], expected[c], accuracy: 1e-5, "\(y) \(x)") }
        } }
        // Squash: the whole image resized to size × size, aspect ratio ignored.
        let image = syntheticImage(height: 6, width: 10, seed: 8)
        let squash = Augmentation(randomResizedCrop: nil, filter: .bilinear, normalization: .unit, resizeMode: .squash)
        XCTAssertEqual(evaluate(image, size: 5, squash), ImageTransforms.resize(image, height: 5, width: 5, filter: .bilinear).map { $0 * unit })
    }

    func testShortestSideCenterCropGeometry() {
        let g = ImageTransforms.shortestSideGeometry(height: 300, width: 451, size: 224)
        XCTAssertEqual(g.resizedHeight, 224)
        XCTAssertEqual(g.resizedWidth, 336)              // ⌊224 · 451 / 300⌋
        XCTAssertEqual(g.window, CropBox(top: 0, left: 56, height: 224, width: 224))
        let tall = ImageTransforms.shortestSideGeometry(height: 33, width: 32, size: 32)
        XCTAssertEqual(tall.window.top, 0)                // round(0.5) = 0, halves to even as Python
        let image = syntheticImage(height: 40, width: 60, seed: 4)
        let out = ImageTransforms.resizeShortestSideAndCenterCrop(image, size: 20)
        let full = ImageTransforms.resize(image, height: 20, width: 30)
        for y in 0..<20 { XCTAssertEqual(Array(out[(y * 60)..<(y * 60 + 60)]), Array(full[(y * 90 + 15)..<(y * 90 + 75)])) }
    }

    func testRandomResizedCropBoxes() {
        var rng = RandomGenerator(seed: 1)
        let crop = RandomResizedCrop(scale: 0.5...1.0)
        for _ in 0..<200 {
            let box = crop.sampleBox(height: 100, width: 150, using: &rng)
            XCTAssertTrue(box.top >= 0 && box.left >= 0 && box.top + box.height <= 100 && box.left + box.width <= 150)
            let area = Double(box.height * box.width) / 15000
            XCTAssertGreaterThan(area, 0.45)
            let ratio = Double(box.width) / Double(box.height)
            XCTAssertTrue(ratio > 0.7 && ratio < 1.45, "\(ratio)")
        }
        // Impossible ratios fall back to a central crop with the ratio clamped.
        let narrow = RandomResizedCrop(scale: 1.0...1.0, ratio: 3.0...3.0)
        XCTAssertEqual(narrow.sampleBox(height: 90, width: 30, using: &rng), CropBox(top: 40, left: 0, height: 10, width: 30))
    }
}

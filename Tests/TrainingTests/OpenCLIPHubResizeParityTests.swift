import Checkpointing
import DataPipeline
import Foundation
import SwiftCLIP
import TestSupport
import XCTest

/// An OpenCLIP hub model evaluated on images that need resizing gives OpenCLIP's image embeddings
/// (Tests/Fixtures/openclip-hub-resize, made by Scripts/make-hub-resize-fixture.py with
/// `create_model_and_transforms("local-dir:…")` and PIL images): the same 8-bit pixels after the
/// hub folder's transform (resize, crop or pad), and embeddings within 1e-5, for bicubic and
/// bilinear, shortest, longest and squash.
final class OpenCLIPHubResizeParityTests: XCTestCase {
    private let folder = ModelFixtures.folder.deletingLastPathComponent().appendingPathComponent("openclip-hub-resize")
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("hub-resize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: root) }

    private func png(_ name: String) throws -> RGBImage {
        try EncodedImage.decode([UInt8](Data(contentsOf: folder.appendingPathComponent(name))))
    }

    /// `augmentation` applied to every image: [N, S, S, 3].
    private func transform(_ images: [RGBImage], size: Int, _ augmentation: Augmentation) -> [Float] {
        var rng = RandomGenerator(seed: 0)
        return images.flatMap { image in
            [Float](unsafeUninitializedCapacity: size * size * 3) { buffer, count in
                augmentation.apply(to: image, size: size, training: false, using: &rng, into: buffer)
                count = size * size * 3
            }
        }
    }

    func testHubModelEmbedsResizedImagesAsOpenCLIP() throws {
        let expected = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("expected.safetensors"))
        XCTAssertEqual(expected.metadata["format"], "swiftclip-preprocessing-fixture")
        let base = try XCTUnwrap(expected.metadata["base_model"])
        let count = try XCTUnwrap(Int(expected.metadata["image_count"] ?? ""))
        let cfgs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(expected.metadata["preprocess_cfgs"]!.utf8)) as? [String: Any])
        XCTAssertEqual(cfgs.count, 4)
        let images = try (0..<count).map { try png("image-\($0).png") }

        // The hub folder's weights: the base model fixture's OpenCLIP state dict.
        let (_, modelFile, tensors) = try ModelFixtures.load(base)
        var writer = try SafeTensorsWriter()
        for (name, value) in tensors.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("input.") && !name.hasPrefix("expected.") {
            try writer.add(name, tensor: value)
        }
        let modelCfg = try JSONSerialization.jsonObject(with: Data(modelFile.metadata["model_config"]!.utf8))

        for (name, cfg) in cfgs.sorted(by: { $0.key < $1.key }) {
            let hub = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: hub, withIntermediateDirectories: true)
            try writer.write(to: hub.appendingPathComponent("open_clip_model.safetensors"))
            try JSONSerialization.data(withJSONObject: ["model_cfg": modelCfg, "preprocess_cfg": cfg])
                .write(to: hub.appendingPathComponent("open_clip_config.json"))
            let loaded = try ModelLoading.load(checkpoint: hub.path, log: { _ in })
            let size = loaded.model.visual.imageSize
            let p = loaded.preprocess

            // The 8-bit pixels OpenCLIP's transform hands to ToTensor: N images of S × S side by side.
            let reference = try png("preprocessed-\(name).png")
            XCTAssertEqual([reference.height, reference.width], [size, size * count])
            let unit = Augmentation(randomResizedCrop: nil, filter: p.filter, normalization: .unit,
                                    resizeMode: p.resizeMode, fill: p.fill)
            let ours = transform(images, size: size, unit).map { Int(($0 * 255).rounded()) }
            var pixelMismatches = 0
            for i in 0..<count {
                for y in 0..<size {
                    for x in 0..<size {
                        for c in 0..<3 where ours[((i * size + y) * size + x) * 3 + c] != Int(reference.pixels[(y * size * count + i * size + x) * 3 + c]) {
                            pixelMismatches += 1
                        }
                    }
                }
            }
            XCTAssertEqual(pixelMismatches, 0, "\(name): 8-bit pixels differing from OpenCLIP's transform")

            // The embeddings of the evaluation transform the hub folder asks for.
            let encoder = ModelEncoder(model: loaded.model, workers: 1, preprocess: p)
            let embeddings = encoder.images(Tensor(shape: [count, size, size, 3], scalars: transform(images, size: size, p)))
            let openCLIP = try expected.floats(named: "expected.\(name).image_embeddings")
            XCTAssertEqual(embeddings.scalars.count, openCLIP.count)
            let worst = zip(embeddings.scalars, openCLIP).map { abs($0 - $1) }.max()!
            print("\(name): \(pixelMismatches) of \(ours.count) 8-bit values differ; image embeddings max |Δ| \(worst)")
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(name): image embeddings vs OpenCLIP's")
        }
    }
}

import Foundation
import SwiftCLIP
import XCTest

/// The high-level API (`CLIP`) against the paths the commands take and against closed forms.
final class CLIPAPITests: XCTestCase {
    var run: SyntheticRun!
    var runFolder: String!

    override func setUpWithError() throws {
        run = try SyntheticRun(items: 16)
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 4, every: 4)), overwrite: true, log: { _ in })
        _ = try trainer.run()
        runFolder = trainer.runDirectory.path
    }

    override func tearDown() { run.cleanup() }

    func shardImages() throws -> [RGBImage] {
        let shard = try ShardDataset(path: run.root.appendingPathComponent("data").path)
        return try (0..<shard.count).map {
            guard case .raw(let rgb) = try shard.image(at: $0) else { throw RunError("expected raw images") }
            return rgb
        }
    }

    func testImageEmbeddingsMatchTheLoaderPathForEveryKindOfInput() throws {
        let clip = try CLIP(checkpoint: runFolder, workers: 2)
        let images = try shardImages()
        let viaAPI = try clip.embed(images: images.map { .rgb($0) })
        let viaLoader = try clip.embed(dataset: try ShardDataset(path: run.root.appendingPathComponent("data").path))
        XCTAssertEqual(viaAPI.shape, [16, 16])
        XCTAssertLessThan(zip(viaAPI.scalars, viaLoader.scalars).map { abs($0 - $1) }.max()!, 1e-6)

        // A JPEG file, its bytes, and its decoded pixels embed identically.
        let jpeg = try JPEG.encode(images[0])
        let file = run.root.appendingPathComponent("image.jpg")
        try Data(jpeg).write(to: file)
        let fromFile = try clip.embed(images: [.file(file.path)]).scalars
        XCTAssertEqual(fromFile, try clip.embed(images: [.encoded(jpeg)]).scalars)
        XCTAssertEqual(fromFile, try clip.embed(images: [.rgb(try EncodedImage.decode(jpeg))]).scalars)
        XCTAssertEqual(Double(fromFile.map { $0 * $0 }.reduce(0, +)), 1, accuracy: 1e-5)

        XCTAssertThrowsError(try clip.embed(images: [.file(run.root.appendingPathComponent("missing.png").path)])) {
            XCTAssertTrue("\($0)".contains("missing.png: cannot read"), "\($0)")
        }
        XCTAssertThrowsError(try clip.embed(images: [.encoded([1, 2, 3])])) {
            XCTAssertTrue("\($0)".contains("not a JPEG or PNG"), "\($0)")
        }
    }

    func testZeroShotAndScoresFollowTheirClosedForms() throws {
        let clip = try CLIP(checkpoint: runFolder, workers: 1)
        let images = Array(try shardImages().prefix(5)).map { CLIP.Image.rgb($0) }
        let classes = ["red square", "blue stripe", "green square"], templates = ["a {}.", "a photo of a {}."]
        let labels = try clip.classify(images, classNames: classes, templates: templates)

        // Oracle: mean of each class's normalized prompt embeddings, renormalized; softmax of 100·cos.
        let x = try clip.embed(images: images).scalars, e = 16
        let prompts = try clip.embed(texts: classes.flatMap { c in templates.map { $0.replacingOccurrences(of: "{}", with: c) } }).scalars
        let weights: [[Double]] = (0..<classes.count).map { c in
            let mean = (0..<e).map { d in (0..<templates.count).map { Double(prompts[(c * templates.count + $0) * e + d]) }.reduce(0, +) / 2 }
            let norm = mean.map { $0 * $0 }.reduce(0, +).squareRoot()
            return mean.map { $0 / norm }
        }
        for (i, label) in labels.enumerated() {
            let logits = weights.map { w in 100 * (0..<e).map { Double(x[i * e + $0]) * w[$0] }.reduce(0, +) }
            let top = logits.max()!, z = logits.map { exp($0 - top) }.reduce(0, +)
            let expected = logits.map { exp($0 - top) / z }
            XCTAssertEqual(label.classIndex, logits.indices.max { logits[$0] < logits[$1] }!)
            XCTAssertEqual(label.className, classes[label.classIndex])
            for (p, q) in zip(label.probabilities, expected) { XCTAssertEqual(Double(p), q, accuracy: 1e-4) }
        }

        let texts = ["a red square.", "a blue stripe."]
        let scores = try clip.scores(images: images, texts: texts)
        let y = try clip.embed(texts: texts).scalars
        XCTAssertEqual(scores.shape, [5, 2])
        for i in 0..<5 { for j in 0..<2 {
            let cosine = (0..<e).map { Double(x[i * e + $0]) * Double(y[j * e + $0]) }.reduce(0, +)
            XCTAssertEqual(Double(scores.scalars[i * 2 + j]), cosine, accuracy: 1e-5)
        } }

        XCTAssertThrowsError(try clip.classifier(classNames: ["a"], templates: ["no placeholder"]))
        XCTAssertThrowsError(try clip.embed(texts: ["ok", "cut\u{0}here"])) { XCTAssertTrue("\($0)".contains("text 1: holds a NUL byte")) }
    }
}

import Foundation
import SwiftCLIP
import XCTest

/// The README's "Use from Swift" code, compiled and run as written: the function body below is the
/// README's block (after `import SwiftCLIP`), and a test checks that the two have not drifted apart.
final class ReadmeSnippetTests: XCTestCase {
    func readmeSnippet(configPath: String, outputDir: String, imagePath: String) throws {
        // README-BEGIN
        // Train from a config (YAML file or `TrainingConfig` value), watching each logged step.
        let config = try TrainingConfig.load(path: configPath, overrides: ["train.steps=20", "run.output_dir=\(outputDir)"])
        let trainer = try Trainer(config: config, overwrite: true, log: { _ in })
        trainer.onStep = { step in print("step \(step.step): loss \(step.loss ?? .nan)") }
        let summary = try trainer.run()          // trainer.cancel() or cancelling the Task stops it with a checkpoint

        // Use the trained model: from the run folder, a checkpoint, an OpenCLIP hub folder, or safetensors.
        let clip = try CLIP(checkpoint: trainer.runDirectory.path)
        let labels = try clip.classify([.file(imagePath)], classNames: ["T-shirt/top", "Trouser", "Sneaker"])
        print(labels[0].className, labels[0].probabilities)
        let embeddings = try clip.embed(texts: ["a photo of a sneaker."])   // [1, E], L2-normalized
        print(summary.finalStep, embeddings.shape)
        // README-END
        XCTAssertEqual(summary.finalStep, 20)
        XCTAssertEqual(labels[0].probabilities.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(embeddings.shape, [1, 16])
    }

    func testTheReadmeCodeRuns() throws {
        let run = try SyntheticRun(items: 16)
        defer { run.cleanup() }
        let configPath = run.root.appendingPathComponent("config.yaml")
        try run.yaml(steps: 8, every: 10).write(to: configPath, atomically: true, encoding: .utf8)
        let image = run.root.appendingPathComponent("image.jpg")
        try Data(try JPEG.encode(RGBImage(height: 20, width: 24, filledWith: (200, 40, 40)))).write(to: image)
        try readmeSnippet(configPath: configPath.path, outputDir: run.root.appendingPathComponent("out").path, imagePath: image.path)
    }

    func testTheReadmeShowsThisCode() throws {
        let here = URL(fileURLWithPath: #filePath)
        let readme = try String(contentsOf: here.appendingPathComponent("../../../README.md").standardizedFileURL, encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        let begin = source.range(of: "        // README-BEGIN\n")!, end = source.range(of: "        // README-END\n")!
        let body = source[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }.joined(separator: "\n")
        XCTAssertTrue(readme.contains("import SwiftCLIP\n\n" + body + "```"), "README's 'Use from Swift' block differs from ReadmeSnippetTests")
    }
}

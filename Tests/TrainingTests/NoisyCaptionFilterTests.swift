import DataPipeline
import Foundation
import Tokenization
import SwiftCLIP
import XCTest

/// CLIP-score filtering does what it is for: a model briefly trained on clean pairs scores pairs
/// whose caption names another color below the true ones, so `--keep 0.5` removes the swapped half
/// (measured: 0 of the 32 kept are swapped after 40 steps; the untrained model keeps 22).
final class NoisyCaptionFilterTests: XCTestCase {
    func testKeepHalfRemovesSwappedCaptions() throws {
        let run = try SyntheticRun()
        defer { run.cleanup() }
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 40, batch: 16, every: 40)), log: { _ in })
        _ = try trainer.run()
        let (model, scoring, _) = try ModelLoading.load(checkpoint: run.root.appendingPathComponent("runs/test").path, log: { _ in })
        let encoder = ModelEncoder(model: model, workers: 2, scoring: scoring)

        // Every other item gets the caption of another color: "a red square." on a blue square.
        let source = try ShardReader(path: run.root.appendingPathComponent("data/shard-00000.h5").path)
        let noisy = run.root.appendingPathComponent("noisy.h5").path
        let writer = ShardWriter(path: noisy)
        let colors = SyntheticRun.colors.map(\.0)
        var swapped: Set<Int> = []
        for i in 0..<source.count {
            var item = try source.item(at: i)
            if i % 2 == 1 {
                let color = colors[i % colors.count], other = colors[(i + 2) % colors.count]
                item.caption = item.caption.replacingOccurrences(of: color, with: other)
                item.longCaption = nil
                swapped.insert(i)
            } else {
                item.longCaption = nil
            }
            try writer.append(item)
        }
        try writer.finish()

        let output = run.root.appendingPathComponent("kept").path
        let summary = try ScoreFilter(dataset: try ShardDataset(path: noisy), output: output, rule: .keepFraction(0.5))
            .run(encoder: encoder, tokenizer: try CLIPTokenizer.bundled())
        let keptSwapped = summary.kept.filter { swapped.contains($0) }.count
        XCTAssertEqual(summary.kept.count, 32)
        XCTAssertLessThanOrEqual(keptSwapped, 4)
    }
}

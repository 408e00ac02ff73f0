import Foundation
import SwiftCLIP
import XCTest

/// Training on shards with several captions per image: each epoch reads one caption per item (a
/// function of seed, epoch and item), so a run resumed mid-epoch ends with the same weights, and the
/// other captions do take part.
final class MultiCaptionTrainingTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    var shard: String { run.root.appendingPathComponent("data/shard-00000.h5").path }

    /// Rewrites the synthetic shard with `extra` more captions per item (0: the original shard).
    func rewriteShard(extra: Int) throws {
        let reader = try ShardReader(path: shard)
        let items = try (0..<reader.count).map { try reader.item(at: $0) }
        let writer = ShardWriter(path: shard)
        for var item in items {
            item.captions = [item.caption] + (0..<extra).map { ["\(item.caption) again", "one more: \(item.caption)", "look, \(item.caption)"][$0] }
            try writer.append(item)
        }
        try writer.finish()
    }

    func train(resume: String? = nil, overwrite: Bool = false) throws {
        // 64 items, batch 16: 4 steps an epoch; 10 steps end in epoch 2, the step-6 checkpoint is mid-epoch 1.
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 10, every: 2)), resume: resume, overwrite: overwrite, log: { _ in })
        _ = try trainer.run()
    }

    func testResumeMidEpochIsExactAndEveryCaptionTakesPart() throws {
        try rewriteShard(extra: 2)
        XCTAssertEqual(try ShardReader(path: shard).captionCount(at: 5), 3)
        try train()
        let straight = try run.modelBytes(step: 10)
        try train(overwrite: true)
        try train(resume: run.root.appendingPathComponent("runs/test/checkpoints/step-00000006").path)
        XCTAssertEqual(try run.modelBytes(step: 10), straight, "resumed mid-epoch, the weights differ")

        // The same images with their first caption only train otherwise: other captions were read.
        try rewriteShard(extra: 0)
        XCTAssertEqual(try ShardReader(path: shard).version, 1)
        try train(overwrite: true)
        XCTAssertNotEqual(try run.modelBytes(step: 10), straight)
    }
}

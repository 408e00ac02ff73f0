import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// Training straight from WebDataset tars written by Python's tarfile and Pillow
/// (`Scripts/make-webdataset-training-fixtures.py`): the same weights, byte for byte, as training from the
/// shards `make-shards webdataset` builds from them; exact resume; indexes kept in the run folder.
final class TarTrainingTests: XCTestCase {
    var root: URL!
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../DataPipelineTests/Fixtures/webdataset-train").standardizedFileURL

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftclip-tars-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for kind in ["plain", "gzip"] {
            try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(kind), to: root.appendingPathComponent(kind))
        }
        try """
        {"embed_dim": 16, "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
         "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
        """.write(to: root.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: root) }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    func train(_ dataTrain: String, name: String, steps: Int = 6, resume: String? = nil, overwrite: Bool = false) throws {
        let yaml = """
        run: {name: \(name), output_dir: \(path("runs")), seed: 3, log_every: 2}
        model: {config: \(path("model.json"))}
        data:
          train: \(dataTrain.hasPrefix("[") ? dataTrain : "\"\(dataTrain)\"")
          batch_size: 8
          augment: {random_resized_crop: [0.6, 1.0], horizontal_flip: true}
          loader_threads: 2
        optimizer: {type: adamw, lr: 2.0e-3, weight_decay: 0.1}
        schedule: {type: cosine, warmup_steps: 2}
        train: {steps: \(steps), workers: 2}
        checkpoint: {every_steps: 3, keep_last: 5}
        """
        let trainer = try Trainer(config: try TrainingConfig.parse(yaml, file: "test.yaml"), resume: resume, overwrite: overwrite, log: { _ in })
        _ = try trainer.run()
    }

    func weights(_ name: String, step: Int = 6) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(String(format: "runs/\(name)/checkpoints/step-%08d/model.safetensors", step)))
    }

    func testTrainingFromTarsGivesTheWeightsOfTrainingFromTheShardsBuiltFromThem() throws {
        try buildShards(from: try WebDatasetShardBuilder(paths: [path("plain")]), output: path("shards"))
        try train(path("shards"), name: "shards")
        try train(path("plain") + "/{00000..00003}.tar", name: "pattern")
        try train(path("gzip"), name: "gzip-folder")
        let reference = try weights("shards")
        XCTAssertEqual(try weights("pattern"), reference, "a brace pattern of tars")
        XCTAssertEqual(try weights("gzip-folder"), reference, "a folder of .tar.gz")
        // The indexes live in the run folder, one per tar, and nothing was written beside the tars.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("runs/pattern/tar-index")).filter { $0.hasSuffix(".index") }.count, 4)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("runs/shards/tar-index")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("plain")).sorted(), (0..<4).map { String(format: "%05d.tar", $0) })
    }

    /// Tars are a mixture source like any other: a 3 : 1 mixture of two tars and the shards of two others
    /// trains to the weights of the same mixture of the shards built from all four.
    func testTarsInAMixtureGiveTheWeightsOfTheirShards() throws {
        let tars = (0..<4).map { path("plain") + String(format: "/%05d.tar", $0) }
        try buildShards(from: try WebDatasetShardBuilder(paths: Array(tars[0..<2])), output: path("shards-a"))
        try buildShards(from: try WebDatasetShardBuilder(paths: Array(tars[2..<4])), output: path("shards-b"))
        func mixture(_ first: String) -> String { "[{source: \"\(first)\", weight: 3}, {source: \(path("shards-b")), weight: 1}]" }
        try train(mixture(path("shards-a")), name: "mixed-shards")
        try train(mixture(path("plain") + "/{00000..00001}.tar"), name: "mixed-tars")
        XCTAssertEqual(try weights("mixed-tars"), try weights("mixed-shards"))
        let counts = try String(contentsOfFile: path("runs/mixed-tars/metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(counts.contains("\"source_samples\""), "per-source counts logged")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("runs/mixed-tars/tar-index")).filter { $0.hasSuffix(".index") }.count, 2)
    }

    func testResumingFromTarsIsExactWithTheIndexesKeptOrRebuilt() throws {
        let tars = path("plain") + "/{00000..00003}.tar"
        try train(tars, name: "straight")
        let straight = try weights("straight")
        try train(tars, name: "resumed", steps: 3)
        try train(tars, name: "resumed", resume: "latest")
        XCTAssertEqual(try weights("resumed"), straight, "resumed with the cached indexes")
        try FileManager.default.removeItem(atPath: path("runs/resumed/tar-index"))
        try FileManager.default.removeItem(atPath: path("runs/resumed/checkpoints/step-00000006"))
        try train(tars, name: "resumed", resume: path("runs/resumed/checkpoints/step-00000003"))
        XCTAssertEqual(try weights("resumed"), straight, "resumed with the indexes built again")
    }

    func testAMissingTarInThePatternIsRefusedBeforeTraining() throws {
        XCTAssertThrowsError(try train(path("plain") + "/{00000..00005}.tar", name: "missing")) { error in
            XCTAssertTrue("\(error)".contains("00004.tar: no such tar file"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("runs/missing/checkpoints")))
    }

    /// `train` killed with SIGKILL — as soon as its run folder has a tar index (during or right after
    /// indexing), and again once a checkpoint exists — then run again (`--resume latest` when there is a
    /// checkpoint) ends with the weights of the run never killed.
    func testKilledAnywhereThenResumedGivesTheWeightsOfTheRunNeverKilled() throws {
        let config = path("tars.yaml")
        try """
        run: {name: straight, output_dir: \(path("runs")), seed: 3, log_every: 2}
        model: {config: \(path("model.json"))}
        data: {train: "\(path("gzip"))/{00000..00003}.tar.gz", batch_size: 8, augment: {random_resized_crop: [0.6, 1.0]}}
        optimizer: {type: adamw, lr: 2.0e-3}
        schedule: {type: cosine, warmup_steps: 2}
        train: {steps: 12, workers: 2}
        checkpoint: {every_steps: 3, keep_last: 5}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let straight = try runCommand("train", ["--config", config])
        XCTAssertEqual(straight.status, 0, straight.stderr)
        func killed(when ready: @escaping () -> Bool) throws {
            let process = try commandProcess("train", ["--config", config, "--set", "run.name=killed"] + (try resumable() ? ["--resume", "latest"] : []))
            (process.standardOutput, process.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice)
            try process.run()
            while process.isRunning && !ready() { usleep(2000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, "train ended before it was killed")
        }
        func resumable() throws -> Bool { FileManager.default.fileExists(atPath: path("runs/killed/checkpoints/latest")) }
        try killed { FileManager.default.fileExists(atPath: self.path("runs/killed/tar-index")) }
        try killed { (try? resumable()) ?? false }
        let last = try runCommand("train", ["--config", config, "--set", "run.name=killed"] + (try resumable() ? ["--resume", "latest"] : []))
        XCTAssertEqual(last.status, 0, last.stderr)
        XCTAssertEqual(try weights("killed", step: 12), try weights("straight", step: 12))
    }
}

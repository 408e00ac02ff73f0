import Checkpointing
import Foundation
import SwiftCLIP
import XCTest

/// Resuming a checkpoint on another layout (ranks × workers, threads standing in for MPI processes).
/// Oracle: R ranks × 1 worker train the weights of 1 process × R workers bit for bit (R ≤ 2, no
/// skipped item: `RankTrainerTests`), so a resume that carries over the data positions, optimizer
/// moments and schedule exactly gives the uninterrupted run's weights.
final class LayoutTrainerTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    /// 64 items in batches of 16: checkpoints at steps 3 and 6, step 3 in the middle of epoch 0.
    func yaml(workers: Int) -> String { run.yaml(steps: 8, workers: workers, every: 3) }
    var checkpoint3: String { run.root.appendingPathComponent("runs/test/checkpoints/step-00000003").path }

    func state(step: Int) throws -> [String: Any] {
        let url = run.root.appendingPathComponent(String(format: "runs/test/checkpoints/step-%08d/state.json", step))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func trainInProcess(_ yaml: String, resume: String? = nil, allowConfigChange: Bool = false) throws -> [String] {
        let lines = Locked<[String]>([])
        let trainer = try Trainer(config: try run.config(yaml), resume: resume, overwrite: resume == nil,
                                  allowConfigChange: allowConfigChange, log: { line in lines.withLock { $0.append(line) } })
        _ = try trainer.run()
        return lines.withLock { $0 }
    }

    func testATwoRankCheckpointResumesInOneProcess() throws {
        XCTAssertEqual(try run.trainOnRanks(2, yaml(workers: 1)), [nil, nil])
        let straight = try run.modelBytes(step: 8)
        XCTAssertEqual(try state(step: 3)["layout"] as? [String: Int], ["ranks": 2, "workers": 1, "accumulation": 1, "batch_size": 16])
        let log = try trainInProcess(yaml(workers: 2), resume: checkpoint3)
        XCTAssertEqual(try run.modelBytes(step: 8), straight, "2 ranks for 3 steps, then one process × 2 workers, differ from 2 ranks straight")
        XCTAssertTrue(log.contains { $0.contains("resuming on 1 rank × 2 workers, the checkpoint was written on 2 ranks × 1 worker: the layout changed") }, "\(log)")
        let resumed = try state(step: 6)
        XCTAssertEqual(resumed["step"] as? Int, 6)
        XCTAssertEqual(resumed["layout"] as? [String: Int], ["ranks": 1, "workers": 2, "accumulation": 1, "batch_size": 16])
        XCTAssertNil(resumed["dealt_from"], "epoch 1 is read whole: nothing left to reconcile")
        XCTAssertNil(resumed["rank_loaders"])
    }

    func testAOneProcessCheckpointResumesOnTwoRanks() throws {
        _ = try trainInProcess(yaml(workers: 2))
        let straight = try run.modelBytes(step: 8)
        let straightState = try state(step: 8)
        let log = Locked<[String]>([])
        XCTAssertEqual(try run.trainOnRanks(2, yaml(workers: 1), resume: checkpoint3, log: { line in log.withLock { $0.append(line) } }), [nil, nil])
        XCTAssertEqual(try run.modelBytes(step: 8), straight, "one process × 2 workers for 3 steps, then 2 ranks, differ from one process straight")
        XCTAssertTrue(log.withLock { $0 }.contains { $0.contains("the layout changed; the 16 positions of epoch 0 not yet read (from position 48, 0 later ones already read) are dealt out again") })
        let resumed = try state(step: 8)
        XCTAssertEqual(resumed["images_seen"] as? Int, straightState["images_seen"] as? Int)
        XCTAssertEqual(resumed["loader"] as? [String: Int], straightState["loader"] as? [String: Int])
    }

    /// A stop before the first step after such a resume saves the new ranks' own positions (not the
    /// old checkpoint's), so that checkpoint resumes too.
    func testAStopBeforeTheFirstStepOnTheNewLayoutSavesItsPositions() throws {
        _ = try trainInProcess(yaml(workers: 2))
        let straight = try run.modelBytes(step: 8)
        let config = UncheckedBox(try run.config(yaml(workers: 1)))
        let checkpoint = checkpoint3
        let errors = onRanks(2) { communicator -> String? in
            do {
                let trainer = try Trainer(config: config.value, resume: checkpoint, communicator: communicator, log: { _ in })
                trainer.cancel()
                let summary = try trainer.run()
                return summary.stoppedEarly && summary.finalStep == 3 ? nil : "did not stop at step 3"
            } catch { return String(describing: error) }
        }
        XCTAssertEqual(errors, [nil, nil])
        let saved = try state(step: 3)
        let positions = [["epoch": 0, "position": 48], ["epoch": 0, "position": 56]]   // rank 1 reads rows 8 ..< 16
        XCTAssertEqual(saved["rank_loaders"] as? [[String: Int]], positions)
        guard saved["rank_loaders"] as? [[String: Int]] == positions else { return }   // no resume from wrong positions
        let dealt = try XCTUnwrap(saved["dealt_from"] as? [String: Any], "the new streams are still in epoch 0")
        XCTAssertEqual(dealt["frontier"] as? Int, 48)
        XCTAssertEqual(dealt["beyond"] as? [Int], [])
        XCTAssertEqual(try run.trainOnRanks(2, yaml(workers: 1), resume: checkpoint3), [nil, nil])
        XCTAssertEqual(try run.modelBytes(step: 8), straight)
    }

    /// A checkpoint whose rank positions no stream of its layout reads (an edited `state.json`) is
    /// refused by every rank alike, with the reason (none goes on to wait for the others).
    func testPositionsThatNoRankReadsAreRefusedByEveryRank() throws {
        XCTAssertEqual(try run.trainOnRanks(2, yaml(workers: 1)), [nil, nil])
        let folder = URL(fileURLWithPath: checkpoint3)
        var files: [String: Data] = [:]
        for name in ["model.safetensors", "optimizer.safetensors", "state.json"] {
            files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        var state = try XCTUnwrap(try JSONSerialization.jsonObject(with: files["state.json"]!) as? [String: Any])
        state["rank_loaders"] = [["epoch": 0, "position": 48], ["epoch": 0, "position": 48]]   // rank 1 reads rows 8 ..< 16
        files["state.json"] = try JSONSerialization.data(withJSONObject: state)
        try CheckpointStore(directory: folder.deletingLastPathComponent()).save(step: 3, files: files)
        for ranks in [2, 1] {
            let errors = try run.trainOnRanks(ranks, yaml(workers: 1), resume: checkpoint3)
            XCTAssertEqual(errors.count, ranks)
            for error in errors {
                XCTAssertTrue(error?.contains("step-00000003: rank 1 of 2 was saved at epoch 0, position 48, which it does not read") == true, "\(error ?? "no error")")
            }
        }
    }

    /// Workers never change which items a step reads: the same positions, the layout change logged.
    func testAnotherWorkerCountReadsTheSamePositions() throws {
        _ = try trainInProcess(yaml(workers: 2))
        let straight = try state(step: 8)
        let log = try trainInProcess(yaml(workers: 1), resume: checkpoint3)
        XCTAssertTrue(log.contains { $0.contains("resuming on 1 rank × 1 worker, the checkpoint was written on 1 rank × 2 workers: the layout changed; every rank reads the same rows as before") }, "\(log)")
        let resumed = try state(step: 8)
        for key in ["step", "images_seen"] { XCTAssertEqual(resumed[key] as? Int, straight[key] as? Int, key) }
        XCTAssertEqual(resumed["loader"] as? [String: Int], straight["loader"] as? [String: Int])
    }

    /// A checkpoint from before layouts were recorded still resumes on another rank count (its layout is
    /// read from its config); without a recorded config it is refused with the reason.
    func testCheckpointsWithoutARecordedLayout() throws {
        XCTAssertEqual(try run.trainOnRanks(2, yaml(workers: 1)), [nil, nil])
        let straight = try run.modelBytes(step: 8)
        let folder = URL(fileURLWithPath: checkpoint3)
        func rewriteState(removing keys: [String]) throws {
            var files: [String: Data] = [:]
            for name in ["model.safetensors", "optimizer.safetensors", "state.json"] {
                files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
            }
            var state = try XCTUnwrap(try JSONSerialization.jsonObject(with: files["state.json"]!) as? [String: Any])
            for key in keys { state.removeValue(forKey: key) }
            files["state.json"] = try JSONSerialization.data(withJSONObject: state, options: [.prettyPrinted, .sortedKeys])
            try CheckpointStore(directory: folder.deletingLastPathComponent()).save(step: 3, files: files)
        }
        try rewriteState(removing: ["layout"])
        _ = try trainInProcess(yaml(workers: 2), resume: checkpoint3)
        XCTAssertEqual(try run.modelBytes(step: 8), straight)
        try rewriteState(removing: ["layout", "config"])
        XCTAssertThrowsError(try trainInProcess(yaml(workers: 2), resume: checkpoint3, allowConfigChange: true)) { error in
            XCTAssertTrue("\(error)".contains("step-00000003 was written by 2 ranks and does not record its layout"), "\(error)")
        }
    }
}

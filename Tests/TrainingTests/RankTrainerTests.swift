import Foundation
import SwiftCLIP
import XCTest

/// The trainer as ranks of a data-parallel job (threads standing in for MPI processes): the same
/// weights as in-process workers, rank 0 alone writes run files, exact resume (see `LayoutTrainerTests`
/// for resuming on another rank count).
final class RankTrainerTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    func trainOnRanks(_ ranks: Int, _ yaml: String, resume: String? = nil) throws -> [String?] {
        try run.trainOnRanks(ranks, yaml, resume: resume)
    }

    func testTwoRanksTrainTheWeightsOfTwoWorkers() throws {
        let single = try Trainer(config: try run.config(run.yaml(steps: 8, workers: 2)), log: { _ in })
        _ = try single.run()
        let inProcess = try run.modelBytes(step: 8)
        try FileManager.default.removeItem(at: run.root.appendingPathComponent("runs/test"))
        XCTAssertEqual(try trainOnRanks(2, run.yaml(steps: 8, workers: 1)), [nil, nil])
        XCTAssertEqual(try run.modelBytes(step: 8), inProcess, "2 ranks × 1 worker differ from 1 process × 2 workers")
        let metrics = try String(contentsOf: run.root.appendingPathComponent("runs/test/metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 5, "one line per logged step and the stop line, from rank 0 only")
    }

    func testResumeUnderRanksIsExact() throws {
        let yaml = run.yaml(steps: 8, workers: 1, accumulation: 2)
        XCTAssertEqual(try trainOnRanks(2, yaml), [nil, nil])
        let straight = try run.modelBytes(step: 8)
        let checkpoint4 = run.root.appendingPathComponent("runs/test/checkpoints/step-00000004").path
        XCTAssertEqual(try trainOnRanks(2, yaml, resume: checkpoint4), [nil, nil])
        XCTAssertEqual(try run.modelBytes(step: 8), straight, "4 steps + resume + 4 steps differ from 8 straight")
    }
}

extension SyntheticRun {
    /// Trains on `ranks` thread ranks (rank 0's lines to `log`); returns each rank's trainer error (nil when it finished).
    func trainOnRanks(_ ranks: Int, _ yaml: String, resume: String? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) throws -> [String?] {
        let config = UncheckedBox(try self.config(yaml))
        return onRanks(ranks) { communicator -> String? in
            do {
                let trainer = try Trainer(config: config.value, resume: resume, overwrite: resume == nil, communicator: communicator,
                                          log: { if communicator.rank == 0 { log($0) } })
                XCTAssertEqual(trainer.metrics.url == nil, communicator.rank != 0)
                _ = try trainer.run()
                return nil
            } catch { return String(describing: error) }
        }
    }
}

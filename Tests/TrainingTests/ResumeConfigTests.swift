import Foundation
import SwiftCLIP
import XCTest

/// Resuming with a changed config (issue 12.7): refused with the changed keys unless only steps and
/// cadences changed, or `allowConfigChange` is given (then the differences are logged).
final class ResumeConfigTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    func resume(_ overrides: [String], allow: Bool = false, log: LogLines = LogLines()) throws -> Trainer {
        try Trainer(config: try run.config(run.yaml(steps: 8), overrides: overrides), resume: "latest",
                    allowConfigChange: allow, log: log.append)
    }

    override func setUp() {
        super.setUp()
        StopSignal.reset()
    }

    func trainFourSteps() throws { _ = try Trainer(config: try run.config(run.yaml(steps: 4)), log: { _ in }).run() }

    func testAChangedLearningRateOrBatchIsRefusedNamingTheKeys() throws {
        try trainFourSteps()
        XCTAssertThrowsError(try resume(["optimizer.lr=0.01", "data.batch_size=8"])) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("optimizer.lr: 0.002 → 0.01"), m)
            XCTAssertTrue(m.contains("data.batch_size: 16 → 8"), m)
            XCTAssertTrue(m.contains("--allow-config-change"), m)
            XCTAssertFalse(m.contains("train.steps"), "steps did not change: \(m)")
            XCTAssertFalse(m.contains("\n"), m)
        }
        XCTAssertThrowsError(try resume(["run.seed=4"])) { e in XCTAssertTrue("\(e)".contains("run.seed: 3 → 4"), "\(e)") }
    }

    func testAllowedChangesAreLogged() throws {
        try trainFourSteps()
        let log = LogLines()
        let trainer = try resume(["optimizer.lr=0.01"], allow: true, log: log)
        XCTAssertTrue(log.text.contains("optimizer.lr: 0.002 → 0.01"), log.text)
        XCTAssertEqual(try trainer.run().finalStep, 8)
    }

    func testStepsAndCadencesMayChange() throws {
        try trainFourSteps()
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 12, every: 3), overrides: ["run.log_every=1"]),
                                  resume: "latest", log: { _ in })
        XCTAssertEqual(try trainer.run().finalStep, 12)
    }
}

import SwiftCLIP
@testable import Evaluation
import XCTest

final class ProgressBarTests: XCTestCase {
    /// The time left at the mean rate so far: 25 of 100 in 30 s leaves 90 s.
    func testETAExtrapolatesTheMeanRate() {
        XCTAssertEqual(ProgressBar.eta(done: 25, total: 100, elapsedSeconds: 30), " ETA 1:30")
        XCTAssertEqual(ProgressBar.eta(done: 1, total: 3, elapsedSeconds: 2.2), " ETA 0:04")
        XCTAssertEqual(ProgressBar.eta(done: 0, total: 10, elapsedSeconds: 5), "")
        XCTAssertEqual(ProgressBar.eta(done: 10, total: 10, elapsedSeconds: 5), "")
    }
}

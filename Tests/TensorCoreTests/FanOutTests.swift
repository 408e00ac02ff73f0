import Foundation
import TensorCore
import XCTest

/// `Parallel.forEachWorker`, the one fan-out: every worker once, each with single-threaded kernels.
final class FanOutTests: XCTestCase {
    func testEveryWorkerRunsOnceWithABudgetOfOne() {
        let seen = UncheckedBox(UnsafeMutableBufferPointer<Int>.allocate(capacity: 5))
        defer { seen.value.deallocate() }
        seen.value.initialize(repeating: 0)
        Parallel.withThreadBudget(4) {
            Parallel.forEachWorker(5) { w in seen.value[w] += 10 * Parallel.threads + 1 }
        }
        XCTAssertEqual(Array(seen.value), [11, 11, 11, 11, 11])
    }

    func testOneWorkerRunsInlineWithTheCallersBudget() {
        var budget = 0
        Parallel.withThreadBudget(3) { Parallel.forEachWorker(1) { _ in budget = Parallel.threads } }
        XCTAssertEqual(budget, 3)
        Parallel.forEachWorker(0) { _ in XCTFail("no worker to run") }
    }
}

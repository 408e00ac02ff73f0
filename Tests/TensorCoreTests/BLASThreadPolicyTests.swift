import TensorCore
import XCTest

/// `Parallel.configureBLAS(forWorkers:)`, the one BLAS-thread rule: the kernel threads are split
/// evenly among the workers, single-threaded BLAS once the workers occupy every thread.
final class BLASThreadPolicyTests: XCTestCase {
    func testWorkersSplitTheThreadsAndOccupyingEveryThreadMeansOneEach() {
        let (savedThreads, savedBLAS) = (Parallel.threads, BLAS.threads)
        defer { Parallel.configure(threads: savedThreads); Parallel.setBLASThreads(savedBLAS) }
        Parallel.configure(threads: 4)
        // (workers, BLAS threads): 4 threads / workers, floored; 1 from 4 workers up.
        for (workers, expected) in [(1, 4), (2, 2), (3, 1), (4, 1), (8, 1)] {
            Parallel.configureBLAS(forWorkers: workers)
            XCTAssertEqual(BLAS.threads, expected, "\(workers) workers")
        }
    }
}

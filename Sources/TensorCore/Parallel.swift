import Foundation

/// Threading settings and a parallel-for used by the kernels.
///
/// The process-wide `threads` setting caps how many threads a kernel may use; a
/// data-parallel worker narrows it to 1 for its own work with `withThreadBudget`,
/// so kernels and workers never oversubscribe the cores (`forEachChunk` also hands its threads
/// the caller's `MatmulPrecision`). OpenBLAS's own thread
/// count is set through `configureBLAS(forWorkers:)`.
public enum Parallel {
    nonisolated(unsafe) private static var _threads = ProcessInfo.processInfo.activeProcessorCount
    @TaskLocal static var budget: Int?

    /// Threads a kernel may use on the calling thread.
    public static var threads: Int {
        get { budget ?? _threads }
    }

    /// Sets the process-wide thread count used by kernels (and OpenBLAS).
    public static func configure(threads: Int) {
        _threads = max(1, threads)
        setBLASThreads(_threads)
    }

    /// Runs `body` with kernels restricted to `threads` threads on this thread.
    public static func withThreadBudget<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        try $budget.withValue(max(1, threads), operation: body)
    }

    /// OpenBLAS threads for every later BLAS call in the process.
    public static func setBLASThreads(_ n: Int) { BLAS.setThreads(n) }

    /// The one BLAS-thread policy, for `workers` threads each running its own GEMMs side by side:
    /// the cores (`threads`) are split evenly among them, and each runs single-threaded BLAS once
    /// the workers occupy every core. One worker (a single caller, e.g. a GEMM peak measurement) gets all cores.
    public static func configureBLAS(forWorkers workers: Int) {
        setBLASThreads(workers >= threads ? 1 : max(1, threads / max(1, workers)))
    }

    /// Calls `body(range)` on disjoint chunks covering `0..<count`, in parallel when
    /// there is enough work (`count / grain` chunks at most). Chunk boundaries depend
    /// only on `count`, `grain` and the thread count, never on timing.
    @inline(__always)
    public static func forEachChunk(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let workers = min(threads, max(1, count / max(grain, 1)))
        if workers <= 1 || count <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let chunk = (count + workers - 1) / workers
        forEachWorker(workers) { w in
            let lo = w * chunk, hi = min(count, lo + chunk)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// The one fan-out of the code base: runs `body(worker)` for `workers` workers at once, each
    /// with single-threaded kernels (a thread budget of 1); a single worker runs on the calling
    /// thread with its budget. The caller's GEMM precision (`MatmulPrecision`) follows each worker;
    /// other task-local settings (grad mode) do not.
    public static func forEachWorker(_ workers: Int, _ body: (Int) -> Void) {
        if workers <= 1 {
            if workers == 1 { body(0) }
            return
        }
        let precision = MatmulPrecision.current
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                MatmulPrecision.with(precision) { $budget.withValue(1) { box.value(w) } }
            }
        }
    }
}

/// Passes non-Sendable values (raw pointers, closures) into concurrent code whose
/// disjoint access the caller guarantees.
public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

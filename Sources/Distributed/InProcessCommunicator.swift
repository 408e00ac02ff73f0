import Foundation
import TensorCore

/// Ranks that are threads of one process, meeting at a shared rendezvous.
///
/// `InProcessCommunicator()` is the single-process case (one rank: every collective is a copy or
/// nothing). `InProcessCommunicator.group(size:)` makes `size` ranks for `size` threads — the same
/// collectives, and the same rank-order sums, as across processes, so multi-rank training can be
/// tested without an MPI runtime. Each rank's calls must come from one thread at a time.
public final class InProcessCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var worldSize: Int { rendezvous.size }
    public var localSize: Int { rendezvous.size }
    private let rendezvous: Rendezvous

    /// A single rank (plain single-process training).
    public convenience init() { self.init(rank: 0, rendezvous: Rendezvous(size: 1)) }

    private init(rank: Int, rendezvous: Rendezvous) { (self.rank, self.rendezvous) = (rank, rendezvous) }

    /// `size` ranks sharing one rendezvous: give rank r's communicator to thread r.
    public static func group(size: Int) -> [InProcessCommunicator] {
        ensure(size >= 1, "a communicator group needs at least one rank")
        let shared = Rendezvous(size: size)
        return (0..<size).map { InProcessCommunicator(rank: $0, rendezvous: shared) }
    }

    public func allGather(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer) {
        ensure(result.count == worldSize * local.count, "allGather: result must hold worldSize × \(local.count) bytes")
        let parts = rendezvous.exchange(rank, UnsafeRawPointer(local.baseAddress))
        for (r, part) in parts.enumerated() where local.count > 0 {
            (result.baseAddress! + r * local.count).copyMemory(from: part!, byteCount: local.count)
        }
        rendezvous.exchange(rank, nil)   // nobody reads `local` any more
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard worldSize > 1, buffer.count > 0 else { return }
        let parts = rendezvous.exchange(rank, UnsafeRawPointer(buffer.baseAddress))
            .map { $0!.assumingMemoryBound(to: Float.self) }
        var sum = [Float](repeating: 0, count: buffer.count)
        sum.withUnsafeMutableBufferPointer { s in
            for i in 0..<buffer.count { s[i] = parts[0][i] }
            for part in parts.dropFirst() { for i in 0..<buffer.count { s[i] += part[i] } }
        }
        rendezvous.exchange(rank, nil)   // every rank has read every buffer
        _ = buffer.update(fromContentsOf: sum)
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {
        let parts = rendezvous.exchange(rank, UnsafeRawPointer(buffer.baseAddress))
        if rank != root, buffer.count > 0 { buffer.baseAddress!.copyMemory(from: parts[root]!, byteCount: buffer.count) }
        rendezvous.exchange(rank, nil)
    }

    public func barrier() { rendezvous.exchange(rank, nil) }

    public func abort(code: Int32) -> Never { exit(code) }

    public var allowsCollectivesFromAnyThread: Bool { true }
}

/// Where the threads of an in-process group meet: each deposits a pointer and waits until all have.
private final class Rendezvous: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var slots: [UnsafeRawPointer?]
    private var arrived = 0
    private var generation = 0
    private var published: [UnsafeRawPointer?] = []

    init(size: Int) {
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// Deposits `pointer` as rank `rank`'s contribution and returns every rank's, in rank order,
    /// once all ranks have arrived.
    @discardableResult
    func exchange(_ rank: Int, _ pointer: UnsafeRawPointer?) -> [UnsafeRawPointer?] {
        condition.lock()
        defer { condition.unlock() }
        slots[rank] = pointer
        arrived += 1
        let mine = generation
        if arrived == size {
            published = slots
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return published
    }
}

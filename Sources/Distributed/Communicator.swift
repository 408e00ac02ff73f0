import TensorCore

/// The collective operations data-parallel training needs between ranks (processes, or threads
/// standing in for them): the seam between the training step and whatever moves the bytes.
///
/// Every rank calls the same collectives in the same order with the same sizes. Results are the
/// same on every rank and every run: reductions add in rank order, never in arrival order.
/// `InProcessCommunicator` (threads in one process) and `MPICommunicator` (Open MPI) implement
/// it; another transport (a GPU collective library) is one more conforming type.
public protocol Communicator: AnyObject, Sendable {
    /// This rank, 0 ..< worldSize.
    var rank: Int { get }
    /// The number of ranks.
    var worldSize: Int { get }
    /// The number of ranks on this machine (they share its cores).
    var localSize: Int { get }

    /// Every rank's `local` bytes, concatenated in rank order into `result`
    /// (worldSize × local.count bytes). Every rank passes the same count.
    func allGather(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer)

    /// Element-wise sum over ranks, in place: `((x₀ + x₁) + x₂) + …` in rank order, so the result
    /// is bit-identical on every rank and on every run. Every rank passes the same count.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)

    /// Rank `root`'s bytes copied into `buffer` on every rank.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int)

    /// Returns once every rank has called it.
    func barrier()

    /// Ends every rank of the job at once with `code` (after a fatal error on this rank).
    func abort(code: Int32) -> Never

    /// Whether collectives may be called from a thread other than the one that created the
    /// communicator (one thread at a time), e.g. to overlap the gradient sum with the backward pass.
    var allowsCollectivesFromAnyThread: Bool { get }
}

extension Communicator {
    public var allowsCollectivesFromAnyThread: Bool { false }
}

import Foundation

internal import CMPI
import TensorCore

/// Ranks that are processes started by `mpirun` or `srun`, talking through Open MPI (the only
/// file that touches MPI). MPI is initialised only when the process was launched by one of them,
/// so a plain `train` never starts an MPI runtime.
///
/// `allReduceSum` is a reduce-scatter then an all-gather, with the reduction done here in rank
/// order (`MPI_Alltoallv` hands rank c every rank's chunk c; it adds them 0, 1, 2, …; then
/// `MPI_Allgatherv` shares the sums): the same bytes move as in a ring all-reduce, and the result is
/// bit-identical on every rank and run — and equal to in-process workers that pair up the same way.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    public let localSize: Int
    private let world: MPI_Comm

    /// Whether this process was started by `mpirun` / `srun` (Open MPI, PMIx or PMI environment).
    public static var isLaunchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }

    /// The communicator of this process: MPI's world when launched by `mpirun`/`srun`, else one
    /// in-process rank.
    public static func fromEnvironment() -> any Communicator {
        isLaunchedByMPI ? MPICommunicator() : InProcessCommunicator()
    }

    /// Whether Open MPI lets any thread call it, one at a time (`MPI_THREAD_SERIALIZED`).
    public let allowsCollectivesFromAnyThread: Bool

    /// Initialises MPI (collectives are called from one thread at a time) and joins the world.
    public init() {
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, swiftclip_mpi_thread_serialized(), &provided)
        allowsCollectivesFromAnyThread = provided >= swiftclip_mpi_thread_serialized()
        world = swiftclip_mpi_comm_world()
        var r: Int32 = 0, n: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &n)
        (rank, worldSize) = (Int(r), Int(n))
        var node: MPI_Comm? = nil
        MPI_Comm_split_type(world, swiftclip_mpi_comm_type_shared(), r, swiftclip_mpi_info_null(), &node)
        var local: Int32 = 1
        MPI_Comm_size(node, &local)
        MPI_Comm_free(&node)
        localSize = Int(local)
    }

    /// Leaves MPI; call once, after the last collective, before a clean exit.
    public func finalize() { MPI_Finalize() }

    public func allGather(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer) {
        ensure(result.count == worldSize * local.count && local.count < Int(Int32.max), "allGather: result must hold worldSize × \(local.count) bytes")
        MPI_Allgather(local.baseAddress, Int32(local.count), swiftclip_mpi_byte(),
                      result.baseAddress, Int32(local.count), swiftclip_mpi_byte(), world)
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard worldSize > 1, buffer.count > 0 else { return }
        let n = buffer.count, size = worldSize
        ensure(n < Int(Int32.max), "allReduceSum: at most 2³¹ floats per call")
        // Chunk c (owned by rank c) is elements displs[c] ..< displs[c] + counts[c].
        let counts = (0..<size).map { Int32(n / size + ($0 < n % size ? 1 : 0)) }
        let displs = counts.indices.map { c in counts[..<c].reduce(0, +) }
        let mine = Int(counts[rank])
        var received = [Float](repeating: 0, count: size * mine)   // [size, mine]: every rank's chunk `rank`
        let recvCounts = [Int32](repeating: Int32(mine), count: size)
        let recvDispls = (0..<size).map { Int32($0 * mine) }
        received.withUnsafeMutableBufferPointer { recv in
            MPI_Alltoallv(buffer.baseAddress, counts, displs, swiftclip_mpi_float(),
                          recv.baseAddress, recvCounts, recvDispls, swiftclip_mpi_float(), world)
            let out = buffer.baseAddress! + Int(displs[rank])
            for i in 0..<mine { out[i] = recv[i] }
            for r in 1..<size { let part = recv.baseAddress! + r * mine; for i in 0..<mine { out[i] += part[i] } }
        }
        MPI_Allgatherv(swiftclip_mpi_in_place(), 0, swiftclip_mpi_float(),
                       buffer.baseAddress, counts, displs, swiftclip_mpi_float(), world)
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {
        ensure(buffer.count < Int(Int32.max), "broadcast: at most 2³¹ bytes per call")
        MPI_Bcast(buffer.baseAddress, Int32(buffer.count), swiftclip_mpi_byte(), Int32(root), world)
    }

    public func barrier() { MPI_Barrier(world) }

    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }
}

import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// Ctrl-C / SIGTERM / SIGUSR1 handling: the first signal asks the trainer to finish the current step,
/// checkpoint and exit 0; a second one exits immediately (the last complete checkpoint stays usable).
public enum StopSignal {
    nonisolated(unsafe) private static var requested: sig_atomic_t = 0
    nonisolated(unsafe) private static var announces: sig_atomic_t = 1

    public static var isRequested: Bool { requested != 0 }

    /// - Parameter announce: print "stop requested: …" on the first signal (under `mpirun`, where every
    ///   rank gets the signal, rank 0 alone does).
    public static func install(announce: Bool = true) {
        announces = announce ? 1 : 0
        let handler: @convention(c) (Int32) -> Void = { sig in
            if StopSignal.requested != 0 { _exit(130) }
            StopSignal.requested = 1
            guard StopSignal.announces != 0 else { return }
            let msg = "\nstop requested: finishing the current step and writing a checkpoint (signal again to quit at once)\n"
            _ = msg.withCString { write(2, $0, strlen($0)) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGUSR1, handler)   // mpirun forwards SIGUSR1 to every rank without killing them
    }

    /// For tests: request a stop as if a signal had arrived.
    public static func request() { requested = 1 }
    public static func reset() { requested = 0 }
}

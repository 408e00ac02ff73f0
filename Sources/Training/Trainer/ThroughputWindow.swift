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

/// The trainer's clock: images per second and the share of time spent waiting for data over the
/// window since the last log line, counting training time only (checkpoints and evaluations are
/// paused time), plus the run's elapsed and training seconds.
struct ThroughputWindow {
    /// One log line's figures.
    struct Reading {
        var imagesPerSecond: Double
        var dataWaitShare: Double
        var elapsedSeconds: Double
        var trainingSeconds: Double
        /// The last step's seconds since the end of the step before (paused time excluded), and its wait for data.
        var stepSeconds: Double
        var stepDataSeconds: Double
        /// The last step's images (all ranks) per `stepSeconds`.
        var stepImagesPerSecond: Double
    }

    let start = Date()
    private var windowStart = Date()
    private var images = 0
    private var wait = 0.0
    private var pausedSeconds = 0.0
    /// When the last step (or pause) ended, and the last step's figures.
    private var stepEnd = Date()
    private var lastStep = (seconds: 0.0, wait: 0.0, images: 0)
    /// Seconds spent waiting for the loader over the whole run.
    private(set) var totalWait = 0.0

    /// Adds a step: `images` trained (all ranks) after `waitSeconds` waiting for the batch.
    mutating func add(images: Int, waitSeconds: Double) {
        self.images += images
        wait += waitSeconds
        let now = Date()
        lastStep = (now.timeIntervalSince(stepEnd), waitSeconds, images)
        stepEnd = now
        totalWait += waitSeconds
    }

    /// Runs `body` (a checkpoint, an evaluation) as paused time, which throughput does not count.
    mutating func pausing(_ body: () throws -> Void) rethrows {
        let pauseStart = Date()
        defer {
            let paused = Date().timeIntervalSince(pauseStart)
            pausedSeconds += paused
            windowStart += paused
            stepEnd += paused
        }
        try body()
    }

    /// The figures of the window so far, which then starts over.
    mutating func read() -> Reading {
        let seconds = Date().timeIntervalSince(windowStart)
        let reading = Reading(imagesPerSecond: Double(images) / max(seconds, 1e-9), dataWaitShare: wait / max(seconds, 1e-9),
                              elapsedSeconds: Date().timeIntervalSince(start),
                              trainingSeconds: Date().timeIntervalSince(start) - pausedSeconds,
                              stepSeconds: lastStep.seconds, stepDataSeconds: lastStep.wait,
                              stepImagesPerSecond: Double(lastStep.images) / max(lastStep.seconds, 1e-9))
        (windowStart, images, wait) = (Date(), 0, 0)
        return reading
    }

    /// The share of the run's wall time spent waiting for data.
    var dataWaitShare: Double { totalWait / max(Date().timeIntervalSince(start), 1e-9) }
}

import Tokenization
import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Checkpointing
import Distributed
import ModelStore
import Evaluation

extension CaptionBatch {
    /// A batch's raw texts, split into sentences by `Tokenization.sentences(of:)`.
    init(captions: [String], longCaptions: [String]?, indices: [Int], epoch: Int, seed: UInt64) {
        self.init(captions: captions, longCaptions: longCaptions, indices: indices, epoch: epoch, seed: seed,
                  sentences: { Tokenization.sentences(of: $0) })
    }
}

extension CaptionSets {
    /// The caption sets `objective` trains on, from a batch's raw captions.
    static func make(for objective: any Objective, captions: [String], longCaptions: [String]?,
                     indices: [Int], epoch: Int, seed: UInt64) -> CaptionSets {
        objective.captionSets(CaptionBatch(captions: captions, longCaptions: longCaptions, indices: indices, epoch: epoch, seed: seed))
    }
}

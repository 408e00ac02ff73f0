import NeuralNet
import Objectives
import Foundation
import TensorCore
import Autograd
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// The outputs of one worker's forward pass (with their graphs when recording).
struct WorkerFeatures {
    var image: Variable
    var text: Variable
    var imageTokens: Variable?
    var textTokens: Variable?
    var textMask: Tensor?
    var extraTexts: [Variable]

    init(model: CLIPModel, inputs: TowerInputs, needs: ObjectiveNeeds) {
        let b = inputs.batchSize
        let img = model.encodeImage(inputs.images, returnTokens: needs.tokens, keptPatches: inputs.keptPatches)
        let txt = model.encodeText(inputs.tokens, batch: b, returnTokens: needs.tokens)
        (image, text, imageTokens, textTokens) = (img.pooled, txt.pooled, img.tokens, txt.tokens)
        if needs.tokens {
            let ctx = model.config.textCfg.contextLength
            let ends = model.text.endPositions(inputs.tokens, batch: b)
            let mask = Tensor.zeros([b, ctx])
            for r in 0..<b { for t in 0...ends[r] { mask.pointer[r * ctx + t] = 1 } }
            textMask = mask
        }
        extraTexts = inputs.extraTokens.map { model.encodeText($0, batch: b).pooled }
    }

    /// The outputs whose gradients the objective gives (those that `global` has too).
    func outputs(matching global: Features) -> [(output: Variable, global: Variable)] {
        var pairs: [(Variable, Variable)] = [(image, global.image), (text, global.text)]
        if let t = imageTokens, let g = global.imageTokens { pairs.append((t, g)) }
        if let t = textTokens, let g = global.textTokens { pairs.append((t, g)) }
        for (k, e) in extraTexts.enumerated() { pairs.append((e, global.extraTexts[k])) }
        return pairs
    }

    /// Back-propagates the gradients that the objective gave to rows `rows` of the global features;
    /// `finished`, when given, hears of each leaf as soon as its gradient is in `store`.
    func backward(seedsFrom global: Features, rows: Range<Int>, lossStore: GradientStore, into store: GradientStore,
                  finished: ((Variable) -> Void)? = nil) {
        let roots = outputs(matching: global).map { pair in
            (pair.output, (lossStore[pair.global] ?? Tensor.zeros(pair.global.shape)).slice(axis: 0, rows))
        }
        Variable.backward(roots, into: store, finished: finished ?? { _ in })
    }
}

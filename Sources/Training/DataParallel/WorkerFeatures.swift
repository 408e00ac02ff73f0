import NeuralNet
import Objectives

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

    /// Back-propagates the gradients that the objective gave to rows `rows` of the global features.
    func backward(seedsFrom global: Features, rows: Range<Int>, lossStore: GradientStore, into store: GradientStore) {
        func seed(_ v: Variable) -> Tensor {
            (lossStore[v] ?? Tensor.zeros(v.shape)).slice(axis: 0, rows)
        }
        var outputs: [(Variable, Tensor)] = [(image, seed(global.image)), (text, seed(global.text))]
        if let t = imageTokens, let g = global.imageTokens { outputs.append((t, seed(g))) }
        if let t = textTokens, let g = global.textTokens { outputs.append((t, seed(g))) }
        for (k, e) in extraTexts.enumerated() { outputs.append((e, seed(global.extraTexts[k]))) }
        Variable.backward(outputs, into: store)
    }
}

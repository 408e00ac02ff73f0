import ArgumentParser
import Checkpointing
import DataPipeline
import Foundation
import Tokenization
import Training

/// `embed --checkpoint CKPT --images SHARD.h5 --texts FILE.txt --output OUT.safetensors`
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write L2-normalized image and text embeddings (F32 safetensors: image_embeddings [N, D], text_embeddings [M, D]).")

    @Option(help: "A run folder, a checkpoint folder, or a model.safetensors (then --model-config).") var checkpoint: String
    @Option(help: "OpenCLIP model-config JSON (for bare safetensors files).") var modelConfig: String?
    @Option(help: "BPE merges file (default: built-in CLIP vocabulary).") var vocab: String?
    @Option(help: "HDF5 shard with /images or /jpeg.") var images: String
    @Option(help: "Text file, one caption per line.") var texts: String
    @Option(help: "Output safetensors file.") var output: String
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "GEMM precision of the towers: fp32, or bf16 (bf16 inputs, fp32 accumulation).") var precision: MatmulPrecision = .fp32

    func run() {
        CommandSupport.run("embed") {
            let (model, tokenizer, encoder) = try CommandSupport.loadForInference(
                checkpoint: checkpoint, modelConfig: modelConfig, vocab: vocab, threads: threads, precision: precision)
            guard let text = try? String(contentsOfFile: texts, encoding: .utf8) else { throw ValidationError("\(texts): cannot read") }
            let captions = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            let imageEmbeddings = try EmbeddingExport.embedImages(encoder: encoder, shard: images)
            let textEmbeddings = captions.isEmpty ? Tensor.zeros([0, model.config.embedDim])
                : encoder.texts(captions, tokenizer: tokenizer)
            try EmbeddingExport.write(images: imageEmbeddings, texts: textEmbeddings, to: URL(fileURLWithPath: output))
            print("embed: \(imageEmbeddings.shape[0]) images, \(textEmbeddings.shape[0]) texts → \(output)")
        }
    }
}

extension MatmulPrecision: ExpressibleByArgument {}

Embed.main()

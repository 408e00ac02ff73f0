import ArgumentParser
import CommandLineTool
import Checkpointing
import DataPipeline
import Foundation
import Tokenization
import SwiftCLIP

/// `embed --checkpoint CKPT --images SHARD.h5 --texts FILE.txt --output OUT.safetensors`
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write L2-normalized image and text embeddings (F32 safetensors: image_embeddings [N, D], text_embeddings [M, D]).")

    @Option(help: "A run folder, a checkpoint folder, an OpenCLIP hub folder, or a model.safetensors (then --model-config).") var checkpoint: String
    @Option(help: "OpenCLIP model-config JSON or built-in name such as ViT-B-32 (for bare safetensors files).") var modelConfig: String?
    @Option(help: "BPE merges file (default: built-in CLIP vocabulary).") var vocab: String?
    @Option(help: "HDF5 shard with /images or /jpeg.") var images: String
    @Option(help: ArgumentHelp("Text file, one caption per line.",
                               discussion: "Lines end at \\n or \\r\\n; every line is a caption (an empty line too): one row of text_embeddings per line, in order."))
    var texts: String
    @Option(help: "Output safetensors file.") var output: String
    @Option(help: "Images per batch.") var batchSize = 256
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "GEMM precision of the towers: fp32, or bf16 (bf16 inputs, fp32 accumulation).") var precision: MatmulPrecision = .fp32

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        try OutputFile.requireWritable(output)
        let captions = try EmbeddingExport.captions(file: texts)
        let (_, tokenizer, encoder) = try CommandSupport.loadForInference(
            checkpoint: checkpoint, modelConfig: modelConfig, vocab: vocab, threads: threads, precision: precision)
        let imageEmbeddings = try EmbeddingExport.embedImages(encoder: encoder, dataset: try DatasetSourceRegistry.open(images), batchSize: batchSize)
        let textEmbeddings = try EmbeddingExport.embedTexts(captions, encoder: encoder, tokenizer: tokenizer, source: texts)
        try EmbeddingExport.write(images: imageEmbeddings, texts: textEmbeddings, to: URL(fileURLWithPath: output))
        print("embed: \(imageEmbeddings.shape[0]) images, \(textEmbeddings.shape[0]) texts → \(output)")
    }
}


Embed.mainWithOneLineErrors()

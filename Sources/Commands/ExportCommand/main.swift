import ArgumentParser
import CommandLineTool
import Foundation
import SwiftCLIP

/// `export --checkpoint CKPT --output DIR`: an OpenCLIP hub folder from any checkpoint.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as an OpenCLIP hub folder (open_clip_config.json + open_clip_model.safetensors).",
        discussion: """
            The folder loads with open_clip.create_model_and_transforms("local-dir:DIR"), or with \
            "hf-hub:ORG/NAME" once uploaded to the Hugging Face hub. It is written atomically; DIR must not exist.
            """)

    @Option(help: "A run folder, a checkpoint folder, a model.safetensors (then --model-config) or an OpenCLIP hub folder.")
    var checkpoint: String
    @Option(help: "OpenCLIP model-config JSON or built-in name (for bare safetensors files).") var modelConfig: String?
    @Option(help: "The hub folder to create (must not exist).") var output: String

    func run() throws {
        let folder = URL(fileURLWithPath: output)
        try OpenCLIPExport.requireNew(folder)
        let (model, _, preprocess) = try ModelLoading.load(checkpoint: checkpoint, modelConfig: modelConfig)
        try OpenCLIPExport.write(model: model, preprocess: preprocess, to: folder)
        print("export: \(model.parameterCount) parameters → \(output)")
    }
}

Export.mainWithOneLineErrors()

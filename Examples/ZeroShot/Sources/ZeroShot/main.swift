// Labels every PNG/JPEG file of a folder with a trained model, zero-shot: one line per file,
// "FILE<TAB>CLASS<TAB>PROBABILITY".
//
//   swift run ZeroShot --checkpoint CKPT --classes "cat,dog,bird" [--templates FILE] DIR
//
// CKPT is anything `evaluate --checkpoint` takes: a run folder, a checkpoint, a hub folder, a
// model.safetensors (add --model-config JSON or a built-in architecture name).
import Foundation
import SwiftCLIP

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ZeroShot: \(message)\n".utf8))
    exit(1)
}

var options: [String: String] = [:], folders: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument.hasPrefix("--") {
        guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
        options[argument] = value
    } else {
        folders.append(argument)
    }
}
guard let checkpoint = options["--checkpoint"], let classes = options["--classes"], folders.count == 1 else {
    fail("usage: ZeroShot --checkpoint CKPT --classes \"a,b,c\" [--templates FILE] [--model-config JSON] DIR")
}

do {
    let clip = try CLIP(checkpoint: checkpoint, modelConfig: options["--model-config"],
                        log: { FileHandle.standardError.write(Data("\($0)\n".utf8)) })
    let templates = try options["--templates"].map { try ZeroShotClassifier.loadTemplates($0) } ?? ZeroShotClassifier.defaultTemplates
    let classifier = try clip.classifier(classNames: classes.split(separator: ",").map(String.init), templates: templates)
    let folder = URL(fileURLWithPath: folders[0])
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        .filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }
        .sorted()
    guard !files.isEmpty else { fail("\(folder.path): no .png, .jpg or .jpeg files") }
    for batch in stride(from: 0, to: files.count, by: 64).map({ Array(files[$0..<min(files.count, $0 + 64)]) }) {
        let labels = try clip.classify(batch.map { .file(folder.appendingPathComponent($0).path) }, with: classifier)
        for (file, label) in zip(batch, labels) {
            print("\(file)\t\(label.className)\t" + String(format: "%.3f", label.probabilities[label.classIndex]))
        }
    }
} catch {
    fail("\(error)")
}

import Foundation
import XCTest
@testable import Checkpointing

/// Every natural form of a checkpoint path resolves; `latest` falls back to the newest intact
/// checkpoint, naming each one it skips and why.
final class CheckpointSourceTests: TemporaryDirectoryTestCase {
    private var run: URL { url("runs/x") }
    private var store: CheckpointStore { CheckpointStore(runDirectory: run) }
    private func folder(_ step: Int) -> URL { store.directory.appendingPathComponent(CheckpointStore.folderName(step: step)) }

    @discardableResult
    private func save(_ step: Int) throws -> URL {
        try store.save(step: step, files: ["model.safetensors": Data("model \(step)".utf8)])
    }

    /// What `source` names: `newest DIR`, `checkpoint DIR`, `foreign FILE` or `hub DIR`.
    private func describe(_ source: CheckpointSource) -> String {
        switch source {
        case .newest(let store): "newest " + store.directory.standardizedFileURL.path
        case .checkpoint(let url): "checkpoint " + url.standardizedFileURL.path
        case .foreignFile(let url): "foreign " + url.path
        case .hubFolder(let url): "hub " + url.standardizedFileURL.path
        }
    }

    /// The model bytes `source` reads, and the lines it logs.
    private func read(_ source: CheckpointSource) throws -> (text: String, skipped: [String]) {
        var skipped: [String] = []
        let text = try source.read(skipped: { skipped.append($0) }) {
            String(decoding: try $0.data("model.safetensors"), as: UTF8.self)
        }.value
        return (text, skipped)
    }

    func testEveryPathFormResolves() throws {
        try save(4)
        let model = try save(8).appendingPathComponent("model.safetensors")
        let foreign = url("ViT-B-32.safetensors")
        try Data("weights".utf8).write(to: foreign)
        let newest = "newest " + store.directory.path
        let cases: [(String, String)] = [
            (run.path, newest), (store.directory.path, newest), (store.directory.path + "/latest", newest),
            (folder(8).path, "checkpoint " + folder(8).path), (model.path, "checkpoint " + folder(8).path),
            (foreign.path, "foreign " + foreign.path), (run.path + "/./checkpoints/../", newest),
        ]
        for (path, expected) in cases { XCTAssertEqual(describe(try CheckpointSource(path: path)), expected, path) }
        XCTAssertEqual(try read(CheckpointSource(path: run.path)).text, "model 8")
        XCTAssertEqual(try read(CheckpointSource(path: folder(4).path)).text, "model 4")
    }

    /// An OpenCLIP hub folder is named by the folder or either of its two files; without its
    /// safetensors weights it is refused, saying why (a pickle-only folder included).
    func testOpenCLIPHubFolderResolves() throws {
        let hub = url("hub")
        try FileManager.default.createDirectory(at: hub, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: hub.appendingPathComponent("open_clip_config.json"))
        assertCheckpointingError(try CheckpointSource(path: hub.path), path: hub.path,
                                 "an OpenCLIP hub folder without open_clip_model.safetensors")
        try Data().write(to: hub.appendingPathComponent("open_clip_pytorch_model.bin"))
        assertCheckpointingError(try CheckpointSource(path: hub.path), path: hub.path, "a PyTorch pickle SwiftCLIP does not read")
        try Data("weights".utf8).write(to: hub.appendingPathComponent("open_clip_model.safetensors"))
        for name in ["", "/open_clip_config.json", "/open_clip_model.safetensors", "/."] {
            XCTAssertEqual(describe(try CheckpointSource(path: hub.path + name)), "hub " + hub.path, name)
        }
        assertCheckpointingError(try read(CheckpointSource(path: hub.path)), path: hub.path, "not resumed")
    }

    func testPathsThatNameNoCheckpointSayWhatIsMissing() throws {
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try Data().write(to: run.appendingPathComponent("config.yaml"))
        assertCheckpointingError(try CheckpointSource(path: run.path), path: run.path, "a run folder without checkpoints")
        assertCheckpointingError(try CheckpointSource(path: url("nope").path), path: "nope", "no such file or folder")
        assertCheckpointingError(try CheckpointSource(path: temporaryDirectory.path), path: temporaryDirectory.path,
                                 "not a run folder, checkpoints folder, checkpoint folder, OpenCLIP hub folder or safetensors file")
        // An empty checkpoints folder: nothing to read.
        try FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true)
        assertCheckpointingError(try read(CheckpointSource(path: run.path)), path: store.directory.path, "no checkpoint saved yet")
        // Another file of a checkpoint folder is not its weights.
        try store.save(step: 1, files: ["model.safetensors": Data(), "state.json": Data()])
        assertCheckpointingError(try CheckpointSource(path: folder(1).path + "/state.json"), path: "state.json",
                                 "a file inside checkpoint step-00000001")
        // Weights from another tool load, but are no checkpoint to resume.
        let foreign = url("w.safetensors")
        try Data().write(to: foreign)
        assertCheckpointingError(try read(CheckpointSource(path: foreign.path)), path: foreign.path, "not resumed")
    }

    func testNewestFallsBackOverDamagedCheckpointsNamingEach() throws {
        for step in [2, 4, 6, 8] { try save(step) }
        try Data("model X".utf8).write(to: folder(8).appendingPathComponent("model.safetensors"))   // same size, bad CRC
        try FileManager.default.removeItem(at: folder(6).appendingPathComponent("manifest.json"))
        let (text, skipped) = try read(.newest(store))
        XCTAssertEqual(text, "model 4")
        XCTAssertEqual(skipped.count, 2, "\(skipped)")
        XCTAssertTrue(skipped[0].hasPrefix("skipping step-00000008: ") && skipped[0].contains("corrupt: CRC-32"), skipped[0])
        XCTAssertTrue(skipped[1].hasPrefix("skipping step-00000006: ") && skipped[1].contains("no manifest.json"), skipped[1])
        // Named explicitly, a damaged checkpoint is an error, not a fallback.
        assertCheckpointingError(try read(.checkpoint(folder(8))), path: "step-00000008/model.safetensors", "corrupt: CRC-32")
        // Nothing intact at all.
        for step in [2, 4] { try FileManager.default.removeItem(at: folder(step).appendingPathComponent("model.safetensors")) }
        assertCheckpointingError(try read(.newest(store)), path: store.directory.path, "no intact checkpoint (4 skipped)")
    }

    /// After resuming from step 4, `latest` names step 4: steps above it belong to the abandoned
    /// branch and are never a fallback; a damaged `latest` file falls back to every folder.
    func testFallbackFollowsLatestNotTheHighestStep() throws {
        for step in [2, 4, 6] { try save(step) }
        try save(4)  // resumed from 4: latest → step-00000004
        try Data("model Y".utf8).write(to: folder(4).appendingPathComponent("model.safetensors"))
        let (text, skipped) = try read(.newest(store))
        XCTAssertEqual(text, "model 2")
        XCTAssertEqual(skipped.map { $0.prefix(22) }, ["skipping step-00000004"])

        try Data("garbage\n".utf8).write(to: store.directory.appendingPathComponent("latest"))
        let fallback = try read(.newest(store))
        XCTAssertEqual(fallback.text, "model 6")
        XCTAssertEqual(fallback.skipped.count, 1)
        XCTAssertTrue(fallback.skipped[0].hasPrefix("ignoring latest: ") && fallback.skipped[0].contains("not a checkpoint folder name"),
                      fallback.skipped[0])
    }
}

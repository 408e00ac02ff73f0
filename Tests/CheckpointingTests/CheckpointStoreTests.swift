import Foundation
import XCTest
@testable import Checkpointing

final class CheckpointStoreTests: TemporaryDirectoryTestCase {
    private var store: CheckpointStore { CheckpointStore(runDirectory: url("runs/fashion-clip")) }
    private var checkpoints: URL { url("runs/fashion-clip/checkpoints") }

    private func files(_ step: Int) -> [String: Data] {
        ["model.safetensors": Data("model \(step)".utf8), "optimizer.safetensors": Data("adam \(step)".utf8),
         "state.json": Data(#"{"step":\#(step)}"#.utf8)]
    }

    /// The checkpoint `latest` names, a folder of the store, or a path, opened and checked.
    private func open(_ reference: String, requiring required: [String] = []) throws -> Checkpoint {
        let folder = reference == "latest" ? try XCTUnwrap(store.latest())
            : reference.hasPrefix("/") ? URL(fileURLWithPath: reference) : checkpoints.appendingPathComponent(reference)
        return try Checkpoint(at: folder, requiring: required)
    }

    private func latestText() throws -> String {
        try String(contentsOf: checkpoints.appendingPathComponent("latest"), encoding: .utf8)
    }

    func testSaveWritesTheRunFolderLayout() throws {
        XCTAssertNil(try store.latest())
        let folder = try store.save(step: 500, files: files(500))
        XCTAssertEqual(folder.lastPathComponent, "step-00000500")
        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints"), ["latest", "step-00000500"])
        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints/step-00000500"),
                       ["manifest.json", "model.safetensors", "optimizer.safetensors", "state.json"])
        XCTAssertEqual(try latestText(), "step-00000500\n")
        XCTAssertEqual(try store.latest()?.path, folder.path)
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("state.json")), Data(#"{"step":500}"#.utf8))

        let checkpoint = try open("latest", requiring: ["model.safetensors", "state.json"])
        XCTAssertEqual(checkpoint.step, 500)
        XCTAssertEqual(checkpoint.fileNames, ["model.safetensors", "optimizer.safetensors", "state.json"])
        XCTAssertEqual(try checkpoint.data("optimizer.safetensors"), Data("adam 500".utf8))
        // The manifest's checksums are zlib CRC-32s.
        XCTAssertEqual(checkpoint.manifest.files["state.json"]?.crc32, CRC32.checksum(Data(#"{"step":500}"#.utf8)))
    }

    func testManifestIsDeterministicJSON() throws {
        let folder = try store.save(step: 7, files: ["b": Data([1, 2, 3]), "a": Data()])
        let text = try String(contentsOf: folder.appendingPathComponent("manifest.json"), encoding: .utf8)
        XCTAssertEqual(text, #"{"format":"swiftclip-checkpoint","format_version":1,"step":7,"files":{"#
            + #""a":{"bytes":0,"crc32":"00000000"},"b":{"bytes":3,"crc32":"55bc801d"}}}"# + "\n")
    }

    func testLatestFollowsEachSave() throws {
        for step in [100, 200, 300] { try store.save(step: step, files: files(step)) }
        XCTAssertEqual(try store.latest()?.lastPathComponent, "step-00000300")
        XCTAssertEqual(try store.checkpoints().map(\.step), [100, 200, 300])
    }

    /// A save interrupted before its rename (a crash) leaves a `.tmp` folder: `latest` ignores
    /// it, listings ignore it, and the next save removes it.
    func testInterruptedSaveIsIgnoredAndCleanedUp() throws {
        try store.save(step: 500, files: files(500))
        let partial = checkpoints.appendingPathComponent("step-00001000.tmp")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: false)
        try Data("half a mod".utf8).write(to: partial.appendingPathComponent("model.safetensors"))
        try Data("step-0".utf8).write(to: checkpoints.appendingPathComponent("latest.tmp-deadbeef"))

        XCTAssertEqual(try store.latest()?.lastPathComponent, "step-00000500")
        XCTAssertEqual(try store.checkpoints().map(\.step), [500])
        XCTAssertEqual(try latestText(), "step-00000500\n")

        try store.save(step: 1000, files: files(1000))
        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints"), ["latest", "step-00000500", "step-00001000"])
        XCTAssertEqual(try open("latest").step, 1000)
    }

    func testFailedSaveLeavesLatestAndNoDebris() throws {
        try store.save(step: 500, files: files(500))
        let before = try listing("runs/fashion-clip/checkpoints")

        // Disk full in the middle of the second file.
        let error = assertCheckpointingError(
            try store.save(step: 1000, writing: ["a.bin": { try $0.write(Data(count: 64)) },
                                                 "b.bin": { try $0.write(Data(count: 4096)) }],
                           calls: diskFullCalls(after: 100)),
            path: "step-00001000/b.bin", "No space left on device")
        XCTAssertEqual(error?.kind, .io(code: ENOSPC))
        // A writer closure that throws.
        XCTAssertThrowsError(try store.save(step: 1000, writing: ["model.safetensors": { sink in
            try sink.write(Data(count: 10))
            throw InjectedFailure()
        }]))
        // Renaming the folder into place fails.
        var failingRename = SystemCalls.system
        failingRename.rename = { _, _ in errno = EIO; return -1 }
        XCTAssertThrowsError(try store.save(step: 1000, writing: files(1000).mapValues { data in { try $0.write(data) } },
                                            calls: failingRename))

        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints"), before)
        XCTAssertEqual(try latestText(), "step-00000500\n")
    }

    func testSavingAnExistingStepReplacesIt() throws {
        try store.save(step: 500, files: files(500))
        try store.save(step: 500, files: ["model.safetensors": Data("retrained".utf8)])
        let checkpoint = try open("latest")
        XCTAssertEqual(checkpoint.fileNames, ["model.safetensors"])
        XCTAssertEqual(try checkpoint.data("model.safetensors"), Data("retrained".utf8))
        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints"), ["latest", "step-00000500"])
    }

    /// A crash between moving the old folder aside and renaming the new one in: `latest` still
    /// finds the old checkpoint, and the next save puts it back before cleaning up.
    func testInterruptedReplacementIsRecovered() throws {
        try store.save(step: 500, files: files(500))
        try FileManager.default.moveItem(at: checkpoints.appendingPathComponent("step-00000500"),
                                         to: checkpoints.appendingPathComponent("step-00000500.replaced.tmp"))
        XCTAssertEqual(try Checkpoint(at: XCTUnwrap(store.latest())).step, 500)
        try store.save(step: 600, files: files(600))
        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints"), ["latest", "step-00000500", "step-00000600"])
        XCTAssertEqual(try open("step-00000500").step, 500)
    }

    func testPruneKeepsTheNewestAndLatest() throws {
        for step in [100, 200, 300, 400, 500] { try store.save(step: step, files: files(step)) }
        let removed = try store.prune(keepLast: 2)
        XCTAssertEqual(removed.map(\.lastPathComponent), ["step-00000100", "step-00000200", "step-00000300"])
        XCTAssertEqual(try store.checkpoints().map(\.step), [400, 500])

        // Resuming from an older checkpoint and saving it again makes it `latest`; it survives pruning.
        try store.save(step: 400, files: files(400))
        try store.save(step: 450, files: files(450))
        XCTAssertEqual(try store.latest()?.lastPathComponent, "step-00000450")
        try store.prune(keepLast: 1)
        XCTAssertEqual(try store.checkpoints().map(\.step), [450, 500])
        try store.prune(keepLast: 0)
        XCTAssertEqual(try store.checkpoints().map(\.step), [450])
        XCTAssertEqual(try listing("runs/fashion-clip/checkpoints"), ["latest", "step-00000450"])
        assertCheckpointingError(try store.prune(keepLast: -1), path: "checkpoints", "keepLast")
    }

    func testCorruptAndIncompleteCheckpointsAreDetected() throws {
        let folder = try store.save(step: 500, files: files(500))
        let model = folder.appendingPathComponent("model.safetensors")

        // A flipped byte: same size, wrong checksum.
        var bytes = try Data(contentsOf: model)
        bytes[0] ^= 0xFF
        try bytes.write(to: model)
        assertCheckpointingError(try open("latest").data("model.safetensors"), path: model.path,
                                 "corrupt: CRC-32")
        // Truncated.
        try bytes.prefix(3).write(to: model)
        assertCheckpointingError(try open("latest"), path: folder.path,
                                 "model.safetensors has 3 bytes, the manifest says 9")
        // Missing.
        try FileManager.default.removeItem(at: model)
        assertCheckpointingError(try open("latest"), path: folder.path, "model.safetensors is missing")
        // Not required by the caller but absent from the manifest.
        assertCheckpointingError(try open("latest", requiring: ["ema.safetensors"]), path: folder.path,
                                 "has no ema.safetensors")
        // No manifest.
        try FileManager.default.removeItem(at: folder.appendingPathComponent("manifest.json"))
        assertCheckpointingError(try open("latest"), path: folder.path, "incomplete checkpoint: no manifest.json")
        // A damaged manifest.
        try Data(#"{"format":"swiftclip-checkpoint","format_version":1,"step":500,"files":{"a":{"bytes":1}}}"#.utf8)
            .write(to: folder.appendingPathComponent("manifest.json"))
        assertCheckpointingError(try open("latest"), path: "manifest.json", "crc32")
        // A manifest for another step.
        try CheckpointManifest(step: 9, files: [:]).encoded().write(to: folder.appendingPathComponent("manifest.json"))
        assertCheckpointingError(try open("latest"), path: folder.path, "folder name says step 500 but its manifest says 9")
    }

    func testBadLatestFilesAreReported() throws {
        try store.save(step: 500, files: files(500))
        let latest = checkpoints.appendingPathComponent("latest")
        try Data("../../etc\n".utf8).write(to: latest)
        assertCheckpointingError(try store.latest(), path: latest.path, "not a checkpoint folder name")
        try Data("step-00000900\n".utf8).write(to: latest)
        assertCheckpointingError(try store.latest(), path: latest.path, "names step-00000900, which does not exist")
        try Data(count: 10_000).write(to: latest)
        assertCheckpointingError(try store.latest(), path: latest.path, "not a folder name")
    }

    func testOpeningAFileIsRefused() throws {
        let model = try store.save(step: 500, files: files(500)).appendingPathComponent("model.safetensors")
        assertCheckpointingError(try open(model.path), path: model.path, "not a checkpoint folder")
    }

    func testRejectsBadArguments() throws {
        assertCheckpointingError(try store.save(step: -1, files: [:]), path: "checkpoints", "negative step")
        for name in ["", ".", "..", "a/b", "manifest.json"] {
            assertCheckpointingError(try store.save(step: 1, files: [name: Data()]), path: "checkpoints",
                                     "not a usable checkpoint file name")
        }
        XCTAssertEqual(CheckpointStore.folderName(step: 123_456_789), "step-123456789")
        XCTAssertEqual(CheckpointStore.step(fromFolderName: "step-123456789"), 123_456_789)
        XCTAssertNil(CheckpointStore.step(fromFolderName: "step-00000500.tmp"))
        XCTAssertNil(CheckpointStore.step(fromFolderName: "step-"))
        XCTAssertNil(CheckpointStore.step(fromFolderName: "step--5"))
    }

    /// The trainer's path: stream safetensors straight into the checkpoint, read them back verified.
    func testStreamingSafeTensorsIntoACheckpoint() throws {
        var model = try SafeTensorsWriter(metadata: ["model": "tiny"])
        try model.add("logit_scale", shape: [], floats: [2.6592600345611572])
        try model.add("visual.proj", shape: [4, 2], floats: (0..<8).map(Float.init))
        var optimizer = try SafeTensorsWriter()
        try optimizer.add("step", shape: [], int64s: [500])
        try store.save(step: 500, writing: [
            "model.safetensors": { try model.write(into: &$0) },
            "optimizer.safetensors": { try optimizer.write(into: &$0) },
            "state.json": { try $0.write(#"{"step":500}"#) },
        ])
        let checkpoint = try open("latest", requiring: ["model.safetensors", "optimizer.safetensors"])
        let weights = try checkpoint.safeTensors("model.safetensors")
        XCTAssertEqual(try weights.floats(named: "visual.proj"), (0..<8).map(Float.init))
        XCTAssertEqual(weights.metadata["model"], "tiny")
        XCTAssertEqual(try checkpoint.safeTensors("optimizer.safetensors").int64s(named: "step"), [500])
        XCTAssertEqual(try checkpoint.data("model.safetensors"), model.serialized())
    }
}

import Checkpointing
import Foundation
import SwiftCLIP
import XCTest

/// Checkpoints are verified on every load (resume, evaluate, embed, `model.init`): a damaged
/// checkpoint named explicitly is refused with the reason; `latest` falls back to the newest
/// intact one, one log line per skipped checkpoint, and resuming from it stays exact.
final class CheckpointVerificationTests: XCTestCase {
    var run: SyntheticRun!
    var lines: [String] = []
    override func setUpWithError() throws { run = try SyntheticRun(); lines = [] }
    override func tearDown() { run.cleanup() }

    var checkpoints: URL { run.root.appendingPathComponent("runs/test/checkpoints") }
    func folder(_ step: Int) -> URL { checkpoints.appendingPathComponent(String(format: "step-%08d", step)) }

    func train(resume: String? = nil, overwrite: Bool = false) throws -> Trainer.Summary {
        let trainer = try Trainer(config: try run.config(run.yaml(steps: 8)), resume: resume, overwrite: overwrite,
                                  log: { [unowned self] in lines.append($0) })
        return try trainer.run()
    }

    /// Flips 4 bytes in the middle of `file` (same size, so only the checksum can tell).
    func flipBytes(_ file: URL) throws {
        var bytes = try Data(contentsOf: file)
        for i in 0..<4 { bytes[bytes.count / 2 + i] ^= 0x5A }
        try bytes.write(to: file)
    }

    func assertRefused(resume: String, _ fragments: String..., line: UInt = #line) {
        XCTAssertThrowsError(try train(resume: resume), line: line) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text, line: line)
            for fragment in fragments { XCTAssertTrue(text.contains(fragment), "\(text) lacks '\(fragment)'", line: line) }
        }
    }

    /// Damage step 8 with `damage`; resuming it by path is refused with `reason`; `latest` skips it
    /// with one line naming it and the reason, resumes from step 4, and ends byte-identical.
    func checkDamage(_ reason: String, _ damage: (URL) throws -> Void, line: UInt = #line) throws {
        _ = try train()
        let straight = try run.modelBytes(step: 8)
        try damage(folder(8))
        assertRefused(resume: folder(8).path, reason, line: line)
        lines = []
        let summary = try train(resume: "latest")
        XCTAssertEqual(summary.finalStep, 8, line: line)
        let skipped = lines.filter { $0.contains("skipping") }
        XCTAssertEqual(skipped.count, 1, "\(lines)", line: line)
        XCTAssertTrue(skipped.first?.contains("step-00000008") == true && skipped.first?.contains(reason) == true,
                      "\(skipped)", line: line)
        XCTAssertTrue(lines.contains { $0.contains("resuming step-00000004 at step 4") }, "\(lines)", line: line)
        XCTAssertEqual(try run.modelBytes(step: 8), straight, "resume after the fallback is not exact", line: line)
    }

    func testFlippedBytesInTheModelAreRefused() throws {
        try checkDamage("CRC-32") { try flipBytes($0.appendingPathComponent("model.safetensors")) }
    }

    func testFlippedBytesInTheOptimizerStateAreRefused() throws {
        try checkDamage("CRC-32") { try flipBytes($0.appendingPathComponent("optimizer.safetensors")) }
    }

    func testEditedStepInStateJSONIsRefused() throws {
        try checkDamage("state.json") { folder in
            let state = folder.appendingPathComponent("state.json")
            let text = try String(contentsOf: state, encoding: .utf8)
            XCTAssertTrue(text.contains("\"step\" : 8"), text)
            try text.replacingOccurrences(of: "\"step\" : 8", with: "\"step\" : 7").write(to: state, atomically: true, encoding: .utf8)
        }
    }

    func testMissingManifestIsRefused() throws {
        try checkDamage("no manifest.json") { try FileManager.default.removeItem(at: $0.appendingPathComponent("manifest.json")) }
    }

    /// Evaluate/embed read the same way: a corrupt model is refused, by folder or by file.
    func testEvaluationRefusesACorruptCheckpoint() throws {
        _ = try train()
        try flipBytes(folder(8).appendingPathComponent("model.safetensors"))
        for path in [folder(8).path, folder(8).appendingPathComponent("model.safetensors").path] {
            XCTAssertThrowsError(try ModelLoading.load(checkpoint: path)) { error in
                XCTAssertTrue("\(error)".contains("CRC-32"), "\(error)")
            }
        }
    }

    /// Every natural form of a checkpoint path loads the same weights.
    func testEveryCheckpointPathFormLoads() throws {
        _ = try train()
        let expected = try ModelLoading.load(checkpoint: folder(8).appendingPathComponent("model.safetensors").path)
            .model.stateDict().map(\.value.scalars)
        let runFolder = run.root.appendingPathComponent("runs/test")
        for path in [runFolder.path, checkpoints.path, checkpoints.appendingPathComponent("latest").path, folder(8).path] {
            let model = try ModelLoading.load(checkpoint: path).model
            XCTAssertEqual(model.stateDict().map(\.value.scalars), expected, path)
        }
        // A file from another tool (no manifest beside it) is validated structurally and loads.
        let foreign = run.root.appendingPathComponent("foreign.safetensors")
        try FileManager.default.copyItem(at: folder(8).appendingPathComponent("model.safetensors"), to: foreign)
        XCTAssertEqual(try ModelLoading.load(checkpoint: foreign.path).model.stateDict().map(\.value.scalars), expected)
    }

    func testPathsThatNameNoCheckpointSayWhatIsMissing() throws {
        let empty = run.root.appendingPathComponent("runs/empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Data("run: {}\n".utf8).write(to: empty.appendingPathComponent("config.yaml"))
        let cases: [(String, String)] = [
            (empty.path, "a run folder without checkpoints"),
            (run.root.appendingPathComponent("data").path, "not a run folder"),
            (run.root.appendingPathComponent("nothing").path, "no such file or folder"),
        ]
        for (path, reason) in cases {
            XCTAssertThrowsError(try ModelLoading.load(checkpoint: path)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(path) && text.contains(reason), text)
            }
        }
    }
}

/// `evaluate`/`embed` refuse weights with NaN or Inf, naming the tensor and the file.
final class NonFiniteWeightsTests: XCTestCase {
    func testNonFiniteWeightsAreRefused() throws {
        let run = try SyntheticRun()
        defer { run.cleanup() }
        var folder: URL?
        do {
            let trainer = try Trainer(config: try run.config(run.yaml(steps: 2, every: 2)), log: { _ in })
            _ = try trainer.run()
            folder = try Self.saveNonFinite(trainer)
        }
        // Resuming it is refused too (not a fallback: the files are intact).
        XCTAssertThrowsError(try Trainer(config: try run.config(run.yaml(steps: 4, every: 2)), resume: XCTUnwrap(folder).path,
                                         log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("tensor 'token_embedding.weight' holds infinite values"), "\(error)")
        }
    }

    /// Saves step 2 with a NaN, then with -Inf, in `token_embedding.weight`; each is refused by evaluation.
    static func saveNonFinite(_ trainer: Trainer) throws -> URL {
        var folder: URL!
        for (bad, word) in [(Float.nan, "NaN"), (-Float.infinity, "infinite")] {
            let parameter = try XCTUnwrap(trainer.model.namedParameters().first { $0.name == "token_embedding.weight" }).parameter
            parameter.value.withUnsafeMutableBufferPointer { $0[5] = bad }
            folder = try trainer.checkpoints.save(step: 2, model: trainer.model, optimizer: trainer.optimizer,
                                                  state: trainer.state, keepLast: 5)
            let file = folder.appendingPathComponent("model.safetensors").path
            XCTAssertThrowsError(try ModelLoading.load(checkpoint: folder.path)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("token_embedding.weight") && text.contains(word) && text.contains(file), text)
            }
        }
        return folder
    }
}

/// One training process per run folder (a lock), and the run folder's problems said plainly.
final class RunFolderTests: XCTestCase {
    var run: SyntheticRun!
    override func setUpWithError() throws { run = try SyntheticRun() }
    override func tearDown() { run.cleanup() }

    func testASecondTrainerOnTheSameRunFolderIsRefused() throws {
        var first: Trainer? = try Trainer(config: try run.config(run.yaml(steps: 4)), log: { _ in })
        _ = try first?.run()
        let before = try run.modelBytes(step: 4)
        for (resume, overwrite) in [(nil, true), ("latest", false)] as [(String?, Bool)] {
            XCTAssertThrowsError(try Trainer(config: try run.config(run.yaml(steps: 4)), resume: resume, overwrite: overwrite,
                                             log: { _ in })) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("in use by another training process") && text.contains("pid \(getpid())"), text)
            }
        }
        XCTAssertEqual(try run.modelBytes(step: 4), before, "the refused trainer touched the checkpoint")
        first = nil
        // Released with the first trainer: a new one may start.
        XCTAssertNoThrow(try Trainer(config: try run.config(run.yaml(steps: 4)), resume: "latest", log: { _ in }))
    }

    func testOverwriteWithResumeIsRefused() throws {
        XCTAssertThrowsError(try Trainer(config: try run.config(run.yaml(steps: 4)), resume: "latest", overwrite: true,
                                         log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("--overwrite"), "\(error)")
        }
    }

    func testAMissingOutputParentIsNamed() throws {
        let missing = run.root.appendingPathComponent("nowhere/deeper")
        let config = try run.config(run.yaml(steps: 4), overrides: ["run.output_dir=\(missing.appendingPathComponent("runs").path)"])
        XCTAssertThrowsError(try Trainer(config: config, log: { _ in })) { error in
            XCTAssertEqual("\(error)", "no such folder: \(missing.path)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path))
    }
}

extension CheckpointVerificationTests {
    /// `state.json` for another step under a manifest rewritten to match it: still refused.
    func testStateOfAnotherStepIsRefusedEvenUnderAMatchingManifest() throws {
        try checkDamage("says step 7, but the checkpoint is step 8") { folder in
            var files: [String: Data] = [:]
            for name in ["model.safetensors", "optimizer.safetensors", "state.json"] {
                files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
            }
            let state = String(decoding: files["state.json"]!, as: UTF8.self)
            files["state.json"] = Data(state.replacingOccurrences(of: "\"step\" : 8", with: "\"step\" : 7").utf8)
            try CheckpointStore(directory: folder.deletingLastPathComponent()).save(step: 8, files: files)
        }
    }
}

extension RunFolderTests {
    /// Another process holds the lock (a shell standing in for a second `train`): refused, naming
    /// the holder the file records; once it is killed with SIGKILL the kernel has dropped the lock.
    func testALockHeldByAnotherProcessRefusesUntilItIsKilled() throws {
        let folder = run.root.appendingPathComponent("runs/locked")
        _ = try RunLock(runDirectory: folder)   // creates the folder and records this process; released at once
        let lockFile = folder.appendingPathComponent(RunLock.fileName).path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"), "needs flock(1)")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec 9<>\"$0\" && /usr/bin/flock -x 9 && echo held && exec sleep 600", lockFile]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        XCTAssertEqual(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self), "held\n")

        XCTAssertThrowsError(try RunLock(runDirectory: folder)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("\(folder.path): in use by another training process (pid \(getpid()) on "), text)
            XCTAssertTrue(text.hasSuffix(", see train.lock); wait for it to end or choose another run.name"), text)
        }
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        let lock = try RunLock(runDirectory: folder)
        XCTAssertEqual(try String(contentsOf: lock.url, encoding: .utf8).prefix(while: { $0 != " " }), "pid")
    }

    func testFileSystemErrorsAreOneLineAUserCanActOn() throws {
        XCTAssertEqual("\(fileSystemError(EACCES, path: "runs"))", "permission denied: runs")
        XCTAssertEqual("\(fileSystemError(ENOENT, path: "/a/b"))", "no such folder: /a/b")
        XCTAssertEqual("\(fileSystemError(ENOSPC, path: "runs/x"))", "no space left on device: runs/x")
        XCTAssertThrowsError(try RunCheckpoints.requireSpace(needed: 2_000_000, available: 500_000, path: "runs/x")) { error in
            XCTAssertEqual("\(error)", "no space left on device: runs/x (0.5 MB free, one checkpoint needs about 2.0 MB)")
        }
        XCTAssertNoThrow(try RunCheckpoints.requireSpace(needed: 2_000_000, available: 2_000_000, path: "runs/x"))
        // A real unwritable output folder (root may write anywhere, so only as another user).
        guard geteuid() != 0 else { return }
        let readOnly = run.root.appendingPathComponent("readonly")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
        chmod(readOnly.path, 0o555)
        defer { chmod(readOnly.path, 0o755) }
        let config = try run.config(run.yaml(steps: 4), overrides: ["run.output_dir=\(readOnly.path)"])
        XCTAssertThrowsError(try Trainer(config: config, log: { _ in })) { error in
            XCTAssertEqual("\(error)", "permission denied: \(readOnly.path)")
        }
    }
}

import Foundation
import XCTest
@testable import Checkpointing

/// System calls that fail like a full disk after `allowedBytes` bytes.
func diskFullCalls(after allowedBytes: Int) -> SystemCalls {
    let budget = Budget(allowedBytes)
    var calls = SystemCalls.system
    calls.write = { descriptor, buffer, count in
        let allowed = budget.take(count)
        guard allowed > 0 else {
            errno = ENOSPC
            return -1
        }
        return SystemCalls.system.write(descriptor, buffer, allowed)
    }
    return calls
}

/// Bytes a fake disk still accepts (tests run writes on one thread).
final class Budget: @unchecked Sendable {
    private var remaining: Int
    init(_ bytes: Int) { remaining = bytes }
    func take(_ count: Int) -> Int {
        let granted = min(count, remaining)
        remaining -= granted
        return granted
    }
}

struct InjectedFailure: Error {}

final class AtomicFileTests: TemporaryDirectoryTestCase {
    func testCreatesAndReplacesAFile() throws {
        let target = url("state.json")
        try AtomicFile.write(Data("first".utf8), to: target)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "first")
        try AtomicFile.write(to: target) { sink in
            try sink.write("sec")
            try sink.write(Data("ond".utf8))
            XCTAssertEqual(sink.byteCount, 6)
        }
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "second")
        XCTAssertEqual(try listing(), ["state.json"], "no temporary file may remain")
    }

    func testAWriterThatThrowsLeavesTheOldFile() throws {
        let target = url("model.safetensors")
        try AtomicFile.write(Data("old".utf8), to: target)
        XCTAssertThrowsError(try AtomicFile.write(to: target) { sink in
            try sink.write(Data(repeating: 7, count: 1000))
            throw InjectedFailure()
        }) { XCTAssertTrue($0 is InjectedFailure, "the writer's own error comes through") }
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
        XCTAssertEqual(try listing(), ["model.safetensors"])
    }

    func testDiskFullIsAOneLineErrorAndLeavesTheOldFile() throws {
        let target = url("model.safetensors")
        try AtomicFile.write(Data("old".utf8), to: target)
        let error = assertCheckpointingError(
            try AtomicFile.write(to: target, calls: diskFullCalls(after: 100)) { sink in
                try sink.write(Data(repeating: 1, count: 4096))
            },
            path: target.path, "cannot write", "No space left on device", "errno \(ENOSPC)")
        XCTAssertEqual(error?.kind, .io(code: ENOSPC))
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
        XCTAssertEqual(try listing(), ["model.safetensors"])
    }

    func testFailingSyncOrRenameLeavesTheOldFile() throws {
        let target = url("latest")
        try AtomicFile.write(Data("old".utf8), to: target)
        var failingSync = SystemCalls.system
        failingSync.fsync = { _ in errno = EIO; return -1 }
        assertCheckpointingError(try AtomicFile.write(to: target, calls: failingSync) { try $0.write("new") },
                                 path: target.path, "cannot sync")
        var failingRename = SystemCalls.system
        failingRename.rename = { _, _ in errno = EXDEV; return -1 }
        assertCheckpointingError(try AtomicFile.write(to: target, calls: failingRename) { try $0.write("new") },
                                 path: target.path, "cannot rename temporary file")
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
        XCTAssertEqual(try listing(), ["latest"])
    }

    func testReadOnlyDirectory() throws {
        try XCTSkipIf(geteuid() == 0, "root ignores directory permissions")
        let directory = url("locked")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        let target = directory.appendingPathComponent("model.safetensors")
        try AtomicFile.write(Data("old".utf8), to: target)
        chmod(directory.path, 0o555)
        assertCheckpointingError(try AtomicFile.write(Data("new".utf8), to: target), path: target.path,
                                 "Permission denied")
        chmod(directory.path, 0o755)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
    }

    func testBadTargetsAreReported() throws {
        assertCheckpointingError(try AtomicFile.write(Data(), to: url("missing/x.json")), path: "missing/x.json",
                                 "does not exist")
        try FileManager.default.createDirectory(at: url("folder"), withIntermediateDirectories: false)
        assertCheckpointingError(try AtomicFile.write(Data(), to: url("folder")), path: "folder", "is a directory")
    }

    func testSafeTensorsWriterWritesAtomically() throws {
        let target = url("model.safetensors")
        var writer = try SafeTensorsWriter()
        try writer.add("w", shape: [3], floats: [1, 2, 3])
        try writer.write(to: target)
        XCTAssertEqual(try Data(contentsOf: target), writer.serialized())
        XCTAssertEqual(try listing(), ["model.safetensors"])
    }
}

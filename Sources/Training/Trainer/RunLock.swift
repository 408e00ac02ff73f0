import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// `runs/NAME/train.lock`, held with `flock` by the one training process that uses the run folder,
/// from `Trainer.init` until the trainer is released. The kernel drops the lock when the process
/// ends (even by `kill -9`), so a stale file never blocks; the file only says who holds it
/// (`pid PID on HOST`), for the refusal of a second process.
public final class RunLock {
    public static let fileName = "train.lock"
    /// The lock file.
    public let url: URL
    private let descriptor: Int32

    /// Creates the run folder if needed (and its parent, `run.output_dir`, whose own parent must
    /// exist), takes the lock without waiting, and records this process in the file.
    /// Throws a one-line error naming the holder if another process has it, or the folder and
    /// the cause if the folder cannot be created or written.
    public init(runDirectory: URL) throws {
        try Self.createFolder(runDirectory)
        url = runDirectory.appendingPathComponent(Self.fileName)
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fileSystemError(errno, path: runDirectory.path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.holder(fd)
            close(fd)
            guard code == EWOULDBLOCK else { throw fileSystemError(code, path: url.path) }
            throw RunError("\(runDirectory.path): in use by another training process (\(holder ?? "holder unknown"), "
                + "see \(Self.fileName)); wait for it to end or choose another run.name")
        }
        descriptor = fd
        let text = Array("pid \(getpid()) on \(Self.hostName())\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.count, 0) == text.count else {
            let code = errno
            close(fd)
            throw fileSystemError(code, path: runDirectory.path)
        }
    }

    deinit { close(descriptor) }

    /// What the holder wrote into the lock file, if anything.
    private static func holder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text.replacingOccurrences(of: "\n", with: " ")
    }

    private static func hostName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown host" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Creates `runDirectory` and its parent (`run.output_dir`) where missing; nothing higher up.
    static func createFolder(_ runDirectory: URL) throws {
        for folder in [runDirectory.deletingLastPathComponent(), runDirectory] {
            var info = stat()
            if stat(folder.path, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else { throw RunError("not a folder: \(folder.path)") }
                continue
            }
            guard mkdir(folder.path, 0o755) == 0 || errno == EEXIST else {
                throw fileSystemError(errno, path: folder.deletingLastPathComponent().path)
            }
        }
    }
}

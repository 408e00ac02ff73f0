import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system calls whose failures matter for durable writes, injectable so tests can simulate
/// a full disk (`ENOSPC`) or a failing `rename` without one. Each returns -1 and sets `errno` on
/// failure, like the C function it stands for.
struct SystemCalls: Sendable {
    var write: @Sendable (_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int
    var fsync: @Sendable (_ descriptor: Int32) -> Int32
    var rename: @Sendable (_ source: String, _ destination: String) -> Int32

    static let system = SystemCalls(write: posixWrite, fsync: posixFsync, rename: posixRename)
}

private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
private func posixFsync(_ descriptor: Int32) -> Int32 { fsync(descriptor) }
private func posixRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }

/// Small POSIX helpers that turn failures into one-line `CheckpointingError`s naming the file.
enum FileSystem {
    /// `path: cannot OPERATION: strerror (errno N)`, reading `errno` unless `code` is given.
    static func ioError(_ operation: String, path: String, code: Int32 = errno,
                        note: String = "") -> CheckpointingError {
        let text = String(cString: strerror(code))
        return CheckpointingError(.io(code: code), path: path,
                                  reason: "cannot \(operation): \(text) (errno \(code))\(note)")
    }

    /// Flushes a directory's entries (new names, renames) to disk.
    static func syncDirectory(_ path: String, using calls: SystemCalls = .system) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ioError("open directory", path: path) }
        defer { close(descriptor) }
        guard calls.fsync(descriptor) == 0 else { throw ioError("sync directory", path: path) }
    }

    static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 else { throw ioError("create directory", path: path) }
    }

    static func rename(_ source: String, to destination: String, using calls: SystemCalls = .system) throws {
        guard calls.rename(source, destination) == 0 else {
            throw ioError("rename to \((destination as NSString).lastPathComponent)", path: source)
        }
    }

    /// Removes a file or a folder with everything in it.
    static func removeItem(_ path: String) throws {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw CheckpointingError(.io(code: EIO), path: path, reason: "cannot remove: \(error.localizedDescription)")
        }
    }

    /// Whether `path` exists, and whether it is a directory (following symbolic links).
    static func itemKind(_ path: String) -> (exists: Bool, isDirectory: Bool) {
        var info = stat()
        guard stat(path, &info) == 0 else { return (false, false) }
        return (true, (info.st_mode & S_IFMT) == S_IFDIR)
    }

    /// Names in a directory, sorted by UTF-8 bytes; `[]` if it does not exist.
    static func contentsOfDirectory(_ path: String) throws -> [String] {
        guard itemKind(path).exists else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted { $0.precedesByUTF8($1) }
        } catch {
            throw CheckpointingError(.io(code: EIO), path: path, reason: "cannot list: \(error.localizedDescription)")
        }
    }
}

/// A file opened for reading with `pread`, so a header can be checked before the rest is read.
struct ReadableFile: ~Copyable {
    let path: String
    let descriptor: Int32
    /// Size in bytes when opened.
    let size: Int

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystem.ioError("open", path: path) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let error = FileSystem.ioError("stat", path: path)
            close(descriptor)
            throw error
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw CheckpointingError(.invalidArgument, path: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Exactly `count` bytes starting at `offset`; throws if the file ends sooner (it shrank).
    func read(at offset: Int, count: Int) throws -> Data {
        var data = Data(count: count)
        var done = 0
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while done < count {
                let n = pread(descriptor, buffer.baseAddress! + done, min(count - done, 1 << 30),
                              off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileSystem.ioError("read", path: path)
                }
                guard n > 0 else {
                    throw CheckpointingError(.malformedFile, path: path,
                                             reason: "file ended at byte \(offset + done) while reading (did it change?)")
                }
                done += n
            }
        }
        return data
    }
}

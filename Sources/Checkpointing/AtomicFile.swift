import Foundation

/// Writes files so that readers see either the old complete file or the new complete one,
/// even across a crash or power loss:
///
/// 1. write `NAME.tmp-XXXXXXXX` in the same directory (same file system, so rename is atomic),
/// 2. fsync it, 3. rename it over `NAME`, 4. fsync the directory so the rename is durable.
///
/// If anything fails before the rename (full disk, the caller's closure throws), the temporary
/// file is removed and the previous `NAME` is untouched. Errors are one line naming `NAME`.
public enum AtomicFile {
    /// Atomically replaces (or creates) the file at `url` with `data`.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { sink in try sink.write(data) }
    }

    /// Atomically replaces (or creates) the file at `url` with what `body` writes into the sink,
    /// streamed to disk without holding the whole file in memory.
    public static func write(to url: URL, _ body: (inout FileSink) throws -> Void) throws {
        try write(to: url, calls: .system, body)
    }

    /// The same, with injectable system calls (tests simulate `ENOSPC` and failing renames).
    static func write(to url: URL, calls: SystemCalls, _ body: (inout FileSink) throws -> Void) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        guard !name.isEmpty, name != "/" else {
            throw CheckpointingError(.invalidArgument, path: path, reason: "not a file path")
        }
        let kind = FileSystem.itemKind(path)
        if kind.exists && kind.isDirectory {
            throw CheckpointingError(.invalidArgument, path: path, reason: "is a directory, cannot write a file there")
        }
        guard FileSystem.itemKind(directory).isDirectory else {
            throw CheckpointingError(.notFound, path: path, reason: "directory \(directory) does not exist")
        }

        var temporaryPath = ""
        var attempts = 0
        while true {
            temporaryPath = directory + "/" + temporaryName(for: name)
            do {
                _ = try FileSink.writeNewFile(at: temporaryPath, reportedPath: path, calls: calls,
                                              computesChecksum: false, body)
                break
            } catch let error as CheckpointingError where error.kind == .io(code: EEXIST) && attempts < 8 {
                attempts += 1  // another writer picked the same random name; pick again
            } catch let error as CheckpointingError where error.path == temporaryPath {
                // Creating the temporary file failed: report it under the caller's name.
                throw CheckpointingError(error.kind, path: path,
                                         reason: error.reason + " (temporary file in \(directory))")
            }
        }
        do {
            try FileSystem.rename(temporaryPath, to: path, using: calls)
        } catch let error as CheckpointingError {
            unlink(temporaryPath)
            throw CheckpointingError(error.kind, path: path,
                                     reason: error.reason.replacingOccurrences(of: "rename to", with: "rename temporary file to"))
        }
        try FileSystem.syncDirectory(directory, using: calls)
    }

    /// Creates the folder `url` (which must not exist) holding the files `files` write (name →
    /// writer, streamed): they are written and fsynced in a temporary sibling `NAME.tmp-XXXXXXXX`,
    /// which is then renamed to `NAME` — so readers never see a half-written folder, and on any
    /// failure nothing is left behind.
    public static func writeFolder(at url: URL, files: [String: (inout FileSink) throws -> Void]) throws {
        let path = url.standardizedFileURL.path
        let parent = url.standardizedFileURL.deletingLastPathComponent().path
        guard !FileSystem.itemKind(path).exists else {
            throw CheckpointingError(.invalidArgument, path: path, reason: "already exists; remove it or choose another folder")
        }
        guard FileSystem.itemKind(parent).isDirectory else {
            throw CheckpointingError(.notFound, path: path, reason: "directory \(parent) does not exist")
        }
        let temporary = parent + "/" + temporaryName(for: url.lastPathComponent)
        try FileSystem.makeDirectory(temporary)
        do {
            for name in files.keys.sorted() {
                _ = try FileSink.writeNewFile(at: temporary + "/" + name, reportedPath: path + "/" + name, calls: .system,
                                              computesChecksum: false, files[name]!)
            }
            try FileSystem.syncDirectory(temporary)
            try FileSystem.rename(temporary, to: path)
            try FileSystem.syncDirectory(parent)
        } catch {
            try? FileSystem.removeItem(temporary)
            throw error
        }
    }

    /// Prefix of the temporary names: `NAME.tmp-`.
    static func temporaryPrefix(for name: String) -> String { name + ".tmp-" }

    private static func temporaryName(for name: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let suffix = String(generator.next() & 0xFFFF_FFFF, radix: 16)
        return temporaryPrefix(for: name) + String(repeating: "0", count: 8 - suffix.count) + suffix
    }
}

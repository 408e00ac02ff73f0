import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file being written, handed to the closures that produce checkpoint files. It writes
/// through to the file descriptor (no buffering), counts bytes, and can checksum them.
///
/// Failures (a full disk, ...) throw one-line errors naming the file the caller asked for,
/// not the temporary name it is being written under.
public struct FileSink {
    let descriptor: Int32
    /// The path errors name.
    let reportedPath: String
    let calls: SystemCalls
    /// Bytes written so far.
    public private(set) var byteCount = 0
    var checksum: CRC32?

    init(descriptor: Int32, reportedPath: String, calls: SystemCalls, computesChecksum: Bool) {
        self.descriptor = descriptor
        self.reportedPath = reportedPath
        self.calls = calls
        checksum = computesChecksum ? CRC32() : nil
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var done = 0
        while done < bytes.count {
            let n = calls.write(descriptor, base + done, min(bytes.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystem.ioError("write", path: reportedPath)
            }
            guard n > 0 else {
                throw FileSystem.ioError("write", path: reportedPath, code: EIO, note: "; write made no progress")
            }
            done += n
        }
        byteCount += bytes.count
        checksum?.update(bytes)
    }

    public mutating func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    public mutating func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }
}

extension FileSink {
    /// Creates `path` (which must not exist), lets `body` fill it, and fsyncs it. On any failure
    /// the partial file is removed. Returns the byte count and, if asked for, the CRC-32.
    static func writeNewFile(at path: String, reportedPath: String, calls: SystemCalls,
                             computesChecksum: Bool,
                             _ body: (inout FileSink) throws -> Void) throws -> (byteCount: Int, crc32: CRC32?) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystem.ioError("create", path: path) }
        var sink = FileSink(descriptor: descriptor, reportedPath: reportedPath, calls: calls,
                            computesChecksum: computesChecksum)
        do {
            try body(&sink)
            guard calls.fsync(descriptor) == 0 else {
                throw FileSystem.ioError("sync", path: reportedPath)
            }
        } catch {
            close(descriptor)
            unlink(path)
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = FileSystem.ioError("close", path: reportedPath)
            unlink(path)
            throw error
        }
        return (sink.byteCount, sink.checksum)
    }
}

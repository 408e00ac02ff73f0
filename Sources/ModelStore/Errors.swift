import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A configuration mistake — a config key, a command-line option or a model config that names
/// something wrong — reported on one line naming the file and the key.
public struct ConfigError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

/// A failure while running that is not a mistake in the configuration: a file that cannot be read
/// or written, a full disk, a damaged checkpoint, data that ends early. One line naming the file
/// and the cause.
public struct RunError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

/// A failed system call on `path` as one line a user can act on: `permission denied: PATH`,
/// `no such folder: PATH`, `no space left on device: PATH`, …; other causes as `PATH: strerror`.
public func fileSystemError(_ code: Int32, path: String) -> RunError {
    switch code {
    case EACCES, EPERM: RunError("permission denied: \(path)")
    case ENOENT: RunError("no such folder: \(path)")
    case ENOTDIR: RunError("not a folder: \(path)")
    case ENOSPC, EDQUOT: RunError("no space left on device: \(path)")
    case EROFS: RunError("read-only file system: \(path)")
    default: RunError("\(path): \(String(cString: strerror(code)))")
    }
}

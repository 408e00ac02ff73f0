import Foundation

/// Where shards are looked for, checked with the system calls themselves so that a path that exists but
/// cannot be read says "permission denied: PATH" rather than looking empty, missing or not HDF5.
enum ShardPaths {
    enum Kind { case file, directory }

    /// The error for a failed `stat`/`open`/`opendir` of `path` with `code` (an `errno`).
    static func error(_ path: String, _ code: Int32) -> ShardError {
        switch code {
        case ENOENT, ENOTDIR: return ShardError(.missingFile, file: path, "no such file")
        case EACCES, EPERM: return ShardError(.permissionDenied, file: path, "permission denied")
        default: return ShardError(.io, file: path, String(cString: strerror(code)))
        }
    }

    /// Whether `path` is a file or a folder, after checking that it can be opened for reading (folders:
    /// listed). Opening is the only reliable test: mode bits do not bind root, ACLs and mounts add rules.
    static func readableKind(of path: String) throws -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { throw error(path, errno) }
        if info.st_mode & S_IFMT == S_IFDIR {
            guard let folder = opendir(path) else { throw error(path, errno) }
            closedir(folder)
            return .directory
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw error(path, errno) }
        close(descriptor)
        return .file
    }

    /// The names in folder `path`.
    static func contents(of path: String) throws -> [String] {
        guard let folder = opendir(path) else { throw error(path, errno) }
        defer { closedir(folder) }
        var names: [String] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

import Foundation
import TensorCore
import NeuralNet
import Objectives
import Optimization
import DataPipeline
import Checkpointing

/// Checks made before a long computation whose result goes to a file, so that a missing folder
/// or a permission problem is reported at once, not after the work (the file is written later,
/// atomically).
public enum OutputFile {
    /// Throws "no such folder: DIR", "not a folder: DIR", "permission denied: DIR" or
    /// "PATH is a folder" when a file could not be created at `path`.
    public static func requireWritable(_ path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw RunError("no such folder: \(folder)")
        }
        guard isDirectory.boolValue else { throw RunError("not a folder: \(folder)") }
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ConfigError("\(url.path) is a folder, expected a file name")
        }
        guard access(folder, W_OK | X_OK) == 0 else { throw RunError("permission denied: \(folder)") }
    }
}

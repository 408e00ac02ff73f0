import Foundation

/// A complete checkpoint folder, checked on opening: it has a valid `manifest.json`, every file
/// the manifest lists exists with the listed size, and the files the caller requires are listed.
/// Reading a file verifies its CRC-32, so corruption is reported instead of loaded.
///
/// What the files contain (`model.safetensors`, `optimizer.safetensors`, `state.json`) is up
/// to the trainer; this type only hands out verified bytes.
public struct Checkpoint: Sendable {
    /// The checkpoint folder, e.g. `runs/NAME/checkpoints/step-00000500`.
    public let url: URL
    public let manifest: CheckpointManifest

    public var step: Int { manifest.step }
    /// Names of the files it holds (manifest excluded), sorted.
    public var fileNames: [String] { manifest.files.keys.sorted { $0.precedesByUTF8($1) } }

    /// Opens the checkpoint folder at `url`.
    /// - Parameter required: file names that must be present, e.g. `["model.safetensors", "state.json"]`.
    public init(at url: URL, requiring required: [String] = []) throws {
        let path = url.path
        let kind = FileSystem.itemKind(path)
        guard kind.exists else {
            throw CheckpointingError(.notFound, path: path, reason: "no such checkpoint folder")
        }
        guard kind.isDirectory else {
            throw CheckpointingError(.invalidArgument, path: path, reason: "is a file, not a checkpoint folder")
        }
        let manifestPath = url.appendingPathComponent(CheckpointManifest.fileName).path
        guard FileSystem.itemKind(manifestPath).exists else {
            throw CheckpointingError(.incompleteCheckpoint, path: path,
                                     reason: "incomplete checkpoint: no \(CheckpointManifest.fileName)")
        }
        let file = try ReadableFile(path: manifestPath)
        guard file.size <= 1 << 24 else {
            throw CheckpointingError(.malformedFile, path: manifestPath, reason: "manifest of \(file.size) bytes is implausibly large")
        }
        manifest = try CheckpointManifest.decode(file.read(at: 0, count: file.size), path: manifestPath)
        self.url = url

        if let folderStep = CheckpointStore.step(fromFolderName: url.lastPathComponent), folderStep != manifest.step {
            throw CheckpointingError(.incompleteCheckpoint, path: path,
                                     reason: "folder name says step \(folderStep) but its manifest says \(manifest.step)")
        }
        for name in required where manifest.files[name] == nil {
            throw CheckpointingError(.incompleteCheckpoint, path: path, reason: "checkpoint has no \(name)")
        }
        for name in fileNames {
            let entry = manifest.files[name]!
            var info = stat()
            let filePath = url.appendingPathComponent(name).path
            guard stat(filePath, &info) == 0 else {
                throw CheckpointingError(.incompleteCheckpoint, path: path,
                                         reason: "incomplete checkpoint: \(name) is missing")
            }
            guard Int(info.st_size) == entry.byteCount else {
                throw CheckpointingError(.incompleteCheckpoint, path: path,
                                         reason: "\(name) has \(info.st_size) bytes, the manifest says \(entry.byteCount)")
            }
        }
    }

    public func contains(_ name: String) -> Bool { manifest.files[name] != nil }

    /// The location of file `name`; throws if the checkpoint has no such file.
    public func url(of name: String) throws -> URL {
        guard contains(name) else {
            throw CheckpointingError(.notFound, path: url.path, reason: "checkpoint has no \(quotedForMessage(name))")
        }
        return url.appendingPathComponent(name)
    }

    /// The bytes of file `name`, after checking their size and CRC-32 against the manifest.
    public func data(_ name: String) throws -> Data {
        let fileURL = try url(of: name)
        let entry = manifest.files[name]!
        let file = try ReadableFile(path: fileURL.path)
        guard file.size == entry.byteCount else {
            throw CheckpointingError(.incompleteCheckpoint, path: fileURL.path,
                                     reason: "has \(file.size) bytes, the manifest says \(entry.byteCount)")
        }
        let data = try file.read(at: 0, count: file.size)
        var checksum = CRC32()
        data.withUnsafeBytes { checksum.update($0) }
        guard checksum.value == entry.crc32 else {
            throw CheckpointingError(.incompleteCheckpoint, path: fileURL.path,
                                     reason: "corrupt: CRC-32 is \(checksum.hex), the manifest says \(CRC32.hex(entry.crc32))")
        }
        return data
    }

    /// File `name` read (checksum verified) and validated as safetensors.
    public func safeTensors(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(data: data(name), path: url.appendingPathComponent(name).path)
    }
}

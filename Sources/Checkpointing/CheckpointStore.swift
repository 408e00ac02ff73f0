import Foundation

/// The `checkpoints/` folder of a run (docs/DESIGN.md):
///
/// ```
/// runs/NAME/checkpoints/
///   step-00000500/{model.safetensors, optimizer.safetensors, state.json, manifest.json}
///   step-00001000/...
///   latest                 "step-00001000\n" — the newest complete checkpoint
/// ```
///
/// A save writes every file into `step-XXXXXXXX.tmp/`, fsyncs the files, the manifest and the
/// folder, renames the folder to `step-XXXXXXXX`, fsyncs `checkpoints/`, and only then replaces
/// `latest` atomically. A crash at any point leaves `latest` naming a complete checkpoint;
/// leftovers (`*.tmp` folders, `latest.tmp-*` files) are ignored and removed by the next save.
///
/// One process at a time saves into a store (the trainer, which holds the run folder's `RunLock`);
/// readers may run concurrently.
public struct CheckpointStore: Sendable {
    /// The `checkpoints` folder.
    public let directory: URL

    public static let latestFileName = "latest"
    private static let temporarySuffix = ".tmp"

    public init(directory: URL) {
        self.directory = directory
    }

    /// The store of run folder `runs/NAME`: `runs/NAME/checkpoints`.
    public init(runDirectory: URL) {
        directory = runDirectory.appendingPathComponent("checkpoints")
    }

    /// `step-00000500`: the step zero-padded to at least eight digits.
    public static func folderName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The step of a folder named `step-DIGITS`, or nil for any other name.
    public static func step(fromFolderName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(digits)
    }

    // MARK: Saving

    /// Saves a checkpoint for `step` holding `files` (file name → bytes) and points `latest` at it.
    /// - Returns: the new checkpoint folder.
    @discardableResult
    public func save(step: Int, files: [String: Data]) throws -> URL {
        try save(step: step, writing: files.mapValues { data in { sink in try sink.write(data) } })
    }

    /// Saves a checkpoint for `step` whose files are streamed by closures (file name → writer),
    /// so large tensors need not be serialized in memory first:
    /// ```swift
    /// try store.save(step: 500, writing: [
    ///     "model.safetensors": { try model.write(into: &$0) },
    ///     "state.json": { try $0.write(stateJSON) },
    /// ])
    /// ```
    /// If saving fails, `latest` and existing checkpoints are unchanged. Saving a step that
    /// already exists replaces it.
    @discardableResult
    public func save(step: Int, writing files: [String: (inout FileSink) throws -> Void]) throws -> URL {
        try save(step: step, writing: files, calls: .system)
    }

    func save(step: Int, writing files: [String: (inout FileSink) throws -> Void],
              calls: SystemCalls) throws -> URL {
        guard step >= 0 else {
            throw CheckpointingError(.invalidArgument, path: directory.path, reason: "cannot save negative step \(step)")
        }
        for name in files.keys where !isPlainFileName(name) || name == CheckpointManifest.fileName {
            throw CheckpointingError(.invalidArgument, path: directory.path,
                                     reason: "\(quotedForMessage(name)) is not a usable checkpoint file name")
        }
        try createDirectory()
        try removeLeftovers()

        let name = Self.folderName(step: step)
        let final = directory.appendingPathComponent(name)
        let temporary = directory.appendingPathComponent(name + Self.temporarySuffix)
        try FileSystem.makeDirectory(temporary.path)
        do {
            var entries: [String: CheckpointManifest.FileEntry] = [:]
            for fileName in files.keys.sorted(by: { $0.precedesByUTF8($1) }) {
                let path = temporary.appendingPathComponent(fileName).path
                let written = try FileSink.writeNewFile(at: path, reportedPath: final.appendingPathComponent(fileName).path,
                                                        calls: calls, computesChecksum: true, files[fileName]!)
                entries[fileName] = .init(byteCount: written.byteCount, crc32: written.crc32!.value)
            }
            let manifest = CheckpointManifest(step: step, files: entries).encoded()
            _ = try FileSink.writeNewFile(at: temporary.appendingPathComponent(CheckpointManifest.fileName).path,
                                          reportedPath: final.appendingPathComponent(CheckpointManifest.fileName).path,
                                          calls: calls, computesChecksum: false) { try $0.write(manifest) }
            try FileSystem.syncDirectory(temporary.path, using: calls)
            try moveIntoPlace(temporary, final, calls: calls)
        } catch {
            try? FileSystem.removeItem(temporary.path)
            throw error
        }
        try AtomicFile.write(to: directory.appendingPathComponent(Self.latestFileName), calls: calls) {
            try $0.write(name + "\n")
        }
        return final
    }

    /// Renames the finished `temporary` folder to `final`, first moving an existing `final` aside.
    /// If a crash comes between the two renames, `removeLeftovers` and `latest` recover the old one.
    private func moveIntoPlace(_ temporary: URL, _ final: URL, calls: SystemCalls) throws {
        let replaced = replacedURL(final.lastPathComponent)
        let hadOld = FileSystem.itemKind(final.path).exists
        if hadOld { try FileSystem.rename(final.path, to: replaced.path, using: calls) }
        do {
            try FileSystem.rename(temporary.path, to: final.path, using: calls)
        } catch {
            if hadOld { try? FileSystem.rename(replaced.path, to: final.path) }
            throw error
        }
        try FileSystem.syncDirectory(directory.path, using: calls)
        if hadOld { try FileSystem.removeItem(replaced.path) }
    }

    /// Where `moveIntoPlace` keeps the old folder `name` while replacing it.
    private func replacedURL(_ name: String) -> URL {
        directory.appendingPathComponent(name + ".replaced" + Self.temporarySuffix)
    }

    private func createDirectory() throws {
        guard !FileSystem.itemKind(directory.path).isDirectory else { return }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try FileSystem.syncDirectory(directory.deletingLastPathComponent().path)
        } catch let error as CheckpointingError {
            throw error
        } catch {
            throw CheckpointingError(.io(code: EIO), path: directory.path,
                                     reason: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Removes what interrupted saves and prunes leave behind: `step-*.tmp` folders and
    /// `latest.tmp-*` files. Nothing else in the folder is touched. A checkpoint that an
    /// interrupted replacement moved aside (`step-X.replaced.tmp` without `step-X`) is restored.
    public func removeLeftovers() throws {
        let latestPrefix = AtomicFile.temporaryPrefix(for: Self.latestFileName)
        let replacedSuffix = ".replaced" + Self.temporarySuffix
        for name in try FileSystem.contentsOfDirectory(directory.path)
        where (name.hasPrefix("step-") && name.hasSuffix(Self.temporarySuffix)) || name.hasPrefix(latestPrefix) {
            let path = directory.appendingPathComponent(name).path
            if name.hasSuffix(replacedSuffix) {
                let original = directory.appendingPathComponent(String(name.dropLast(replacedSuffix.count)))
                if !FileSystem.itemKind(original.path).exists {
                    try FileSystem.rename(path, to: original.path)
                    continue
                }
            }
            try FileSystem.removeItem(path)
        }
    }

    // MARK: Finding checkpoints

    /// The checkpoint folder `latest` names, or nil if nothing was saved yet.
    /// Throws if `latest` is unreadable or names a folder that does not exist.
    public func latest() throws -> URL? {
        let latestURL = directory.appendingPathComponent(Self.latestFileName)
        guard FileSystem.itemKind(latestURL.path).exists else { return nil }
        let file = try ReadableFile(path: latestURL.path)
        guard file.size <= 256 else {
            throw CheckpointingError(.malformedFile, path: latestURL.path, reason: "\(file.size) bytes, not a folder name")
        }
        let text = String(decoding: try file.read(at: 0, count: file.size), as: UTF8.self)
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.step(fromFolderName: name) != nil else {
            throw CheckpointingError(.malformedFile, path: latestURL.path,
                                     reason: "contains \(quotedForMessage(name)), not a checkpoint folder name")
        }
        let folder = directory.appendingPathComponent(name)
        if !FileSystem.itemKind(folder.path).exists, FileSystem.itemKind(replacedURL(name).path).isDirectory {
            return replacedURL(name)  // a replacing save was interrupted between its renames
        }
        guard FileSystem.itemKind(folder.path).isDirectory else {
            throw CheckpointingError(.incompleteCheckpoint, path: latestURL.path,
                                     reason: "names \(name), which does not exist")
        }
        return folder
    }

    /// Complete-looking checkpoint folders (`step-DIGITS`), oldest step first.
    public func checkpoints() throws -> [(step: Int, url: URL)] {
        try FileSystem.contentsOfDirectory(directory.path)
            .compactMap { name in
                guard let step = Self.step(fromFolderName: name) else { return nil }
                let url = directory.appendingPathComponent(name)
                return FileSystem.itemKind(url.path).isDirectory ? (step, url) : nil
            }
            .sorted { $0.step < $1.step }
    }

    // MARK: Pruning

    /// Deletes all but the `keepLast` checkpoints with the highest steps, never the one `latest`
    /// names. Each folder is first renamed to `step-X.deleting.tmp`, so an interrupted prune
    /// leaves only leftovers, never a half-deleted checkpoint.
    /// - Returns: the folders removed.
    @discardableResult
    public func prune(keepLast: Int) throws -> [URL] {
        guard keepLast >= 0 else {
            throw CheckpointingError(.invalidArgument, path: directory.path, reason: "keepLast must be ≥ 0, got \(keepLast)")
        }
        let protected = try latest()?.lastPathComponent
        let all = try checkpoints()
        var removed: [URL] = []
        for (_, url) in all.dropLast(keepLast) where url.lastPathComponent != protected {
            let doomed = directory.appendingPathComponent(url.lastPathComponent + ".deleting" + Self.temporarySuffix)
            try FileSystem.rename(url.path, to: doomed.path)
            try FileSystem.removeItem(doomed.path)
            removed.append(url)
        }
        if !removed.isEmpty { try FileSystem.syncDirectory(directory.path) }
        return removed
    }
}

import Foundation

/// What a checkpoint path given by a user names (`--resume`, `--checkpoint`, `model.init`): the one
/// place such paths are resolved and `latest` is followed.
///
/// | path | source |
/// |---|---|
/// | `runs/X` (a run folder), `runs/X/checkpoints`, `runs/X/checkpoints/latest` | `.newest`: the run's newest intact checkpoint |
/// | `runs/X/checkpoints/step-00000500`, or its `model.safetensors` | `.checkpoint`: exactly that one |
/// | `ViT-B-32.safetensors` with no manifest beside it | `.foreignFile`: weights from another tool |
/// | a folder with `open_clip_config.json` + `open_clip_model.safetensors` (or either file in it) | `.hubFolder`: an OpenCLIP hub folder |
///
/// Anything else is refused with one line saying what is missing.
public enum CheckpointSource: Sendable {
    /// The newest intact checkpoint of a store: `latest`, then older ones (see `read`).
    case newest(CheckpointStore)
    /// One checkpoint folder; damage is an error, never a fallback.
    case checkpoint(URL)
    /// A safetensors file written by another tool (no manifest): validated structurally only.
    case foreignFile(URL)
    /// An OpenCLIP hub folder (what `push_to_hf_hub` uploads and `local-dir:` loads): the model
    /// and preprocessing config in `open_clip_config.json`, the weights in
    /// `open_clip_model.safetensors`. Validated structurally, as a foreign file.
    case hubFolder(URL)

    /// The file a path to a checkpoint's weights names inside its folder.
    public static let weightsFileName = "model.safetensors"
    /// An OpenCLIP hub folder's config (`model_cfg`, `preprocess_cfg`) and weights.
    public static let hubConfigFileName = "open_clip_config.json"
    public static let hubWeightsFileName = "open_clip_model.safetensors"

    /// Resolves `path` (absolute or relative to the working directory).
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let kind = FileSystem.itemKind(url.path)
        guard kind.exists else { throw CheckpointingError(.notFound, path: path, reason: "no such file or folder") }
        func has(_ name: String) -> (exists: Bool, isDirectory: Bool) {
            FileSystem.itemKind(url.appendingPathComponent(name).path)
        }
        if !kind.isDirectory {
            let folder = url.deletingLastPathComponent()
            if [Self.hubConfigFileName, Self.hubWeightsFileName].contains(url.lastPathComponent)
                && FileSystem.itemKind(folder.appendingPathComponent(Self.hubConfigFileName).path).exists {
                self = try Self.hubFolder(folder, path: path)
            } else if url.lastPathComponent == CheckpointStore.latestFileName {
                self = .newest(CheckpointStore(directory: folder))
            } else if Self.isCheckpointFolder(folder) {
                guard url.lastPathComponent == Self.weightsFileName else {
                    throw CheckpointingError(.invalidArgument, path: path,
                                             reason: "a file inside checkpoint \(folder.lastPathComponent); pass the folder or its \(Self.weightsFileName)")
                }
                self = .checkpoint(folder)
            } else {
                self = .foreignFile(url)
            }
        } else if Self.isCheckpointFolder(url) {
            self = .checkpoint(url)
        } else if has(Self.hubConfigFileName).exists {
            self = try Self.hubFolder(url, path: path)
        } else if try has(CheckpointStore.latestFileName).exists || !CheckpointStore(directory: url).checkpoints().isEmpty {
            self = .newest(CheckpointStore(directory: url))
        } else if has("checkpoints").isDirectory {
            self = .newest(CheckpointStore(runDirectory: url))
        } else if has("config.yaml").exists || has("metrics.jsonl").exists {
            throw CheckpointingError(.notFound, path: path, reason: "a run folder without checkpoints")
        } else {
            throw CheckpointingError(.notFound, path: path,
                                     reason: "not a run folder, checkpoints folder, checkpoint folder, OpenCLIP hub folder or safetensors file")
        }
    }

    /// `.hubFolder(folder)`, or a one-line refusal when its safetensors weights are missing.
    private static func hubFolder(_ folder: URL, path: String) throws -> CheckpointSource {
        guard FileSystem.itemKind(folder.appendingPathComponent(hubWeightsFileName).path).exists else {
            let pickle = FileSystem.itemKind(folder.appendingPathComponent("open_clip_pytorch_model.bin").path).exists
            throw CheckpointingError(.notFound, path: path, reason: "an OpenCLIP hub folder without \(hubWeightsFileName)"
                + (pickle ? " (only open_clip_pytorch_model.bin, a PyTorch pickle SwiftCLIP does not read; save it with safetensors)" : ""))
        }
        return .hubFolder(folder)
    }

    /// A folder written by `CheckpointStore.save` (even a damaged one): named `step-DIGITS`, or
    /// holding a manifest or a training state.
    static func isCheckpointFolder(_ url: URL) -> Bool {
        CheckpointStore.step(fromFolderName: url.lastPathComponent) != nil
            || FileSystem.itemKind(url.appendingPathComponent(CheckpointManifest.fileName).path).exists
            || FileSystem.itemKind(url.appendingPathComponent("state.json").path).exists
    }

    /// Opens the checkpoint and hands it to `read`, which reads (and so verifies) what the caller
    /// needs. For `.newest`, a checkpoint that fails to open or to read is reported through
    /// `skipped` (`skipping step-00000500: REASON`) and the next older one is tried, starting
    /// from the one `latest` names; for `.checkpoint`, the failure is thrown.
    /// - Returns: the checkpoint read and what `read` returned.
    public func read<T>(skipped: (String) -> Void,
                        _ read: (Checkpoint) throws -> T) throws -> (checkpoint: Checkpoint, value: T) {
        switch self {
        case .checkpoint(let url):
            let checkpoint = try Checkpoint(at: url)
            return (checkpoint, try read(checkpoint))
        case .foreignFile(let url):
            throw CheckpointingError(.invalidArgument, path: url.path,
                                     reason: "a safetensors file without a checkpoint manifest: its weights can be loaded (model.init, --checkpoint), not resumed")
        case .hubFolder(let url):
            throw CheckpointingError(.invalidArgument, path: url.path,
                                     reason: "an OpenCLIP hub folder: its weights can be loaded (model.init, --checkpoint), not resumed")
        case .newest(let store):
            let candidates = try store.newestFirst(skipped: skipped)
            for url in candidates {
                do {
                    let checkpoint = try Checkpoint(at: url)
                    return (checkpoint, try read(checkpoint))
                } catch {
                    skipped("skipping \(url.lastPathComponent): " + oneLine(String(describing: error)))
                }
            }
            throw CheckpointingError(.incompleteCheckpoint, path: store.directory.path,
                                     reason: candidates.isEmpty ? "no checkpoint saved yet"
                                         : "no intact checkpoint (\(candidates.count) skipped)")
        }
    }
}

extension CheckpointStore {
    /// Checkpoint folders to try for "the newest": the one `latest` names, then those with lower
    /// steps, newest first (higher steps are from a branch abandoned by resuming an older one).
    /// If `latest` is missing or damaged, every folder, newest first (reported through `skipped`).
    func newestFirst(skipped: (String) -> Void) throws -> [URL] {
        let all = try checkpoints()
        let named: URL?
        do { named = try latest() } catch {
            skipped("ignoring \(Self.latestFileName): " + oneLine(String(describing: error)))
            named = nil
        }
        guard let named else { return all.reversed().map(\.url) }
        let step = Self.step(fromFolderName: named.lastPathComponent)
            ?? Self.step(fromFolderName: String(named.lastPathComponent.prefix { $0 != "." }))
        let older = all.filter { candidate in step.map { candidate.step < $0 } ?? false }
        return [named] + older.reversed().map(\.url)
    }
}

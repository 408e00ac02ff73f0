import Foundation
import Tokenization

/// How `make-shards` stores images read from files.
public enum StoredImageFormat: Sendable, Equatable {
    /// The original encoded bytes, JPEG or PNG, in `/jpeg` (checked by decoding them once).
    case jpeg
    /// Decoded, shortest side resized to `size` (bicubic), center-cropped to `size × size`, in `/images`.
    case raw(size: Int)
}

/// Reads an image file and prepares it for a shard.
/// - Throws: the `SkipReason` to leave the item out for: "missing file", "permission denied",
///   "not a JPEG or PNG image", "corrupt JPEG" (with libjpeg's message), …
func loadImageFile(_ path: String, as format: StoredImageFormat) throws -> ShardImage {
    do {
        guard try ShardPaths.readableKind(of: path) == .file else { throw SkipReason("not a file") }
    } catch let error as ShardError {
        switch error.kind {
        case .missingFile: throw SkipReason("missing file")
        case .permissionDenied: throw SkipReason("permission denied")
        default: throw SkipReason("cannot read file", detail: error.message)
        }
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw SkipReason("cannot read file") }
    return try prepareImage([UInt8](data), as: format)
}

/// Checks encoded JPEG or PNG bytes by decoding them and prepares them for a shard.
/// - Throws: the `SkipReason` to leave the item out for ("not a JPEG or PNG image", "corrupt JPEG", …).
func prepareImage(_ bytes: [UInt8], as format: StoredImageFormat) throws -> ShardImage {
    let image: RGBImage
    do { image = try EncodedImage.decode(bytes) } catch { throw SkipReason(error) }
    switch format {
    case .jpeg:
        return .jpeg(bytes)
    case let .raw(size):
        return .raw(resizedForStorage(image, size: size))
    }
}

/// Shortest side to `size`, center crop, rounded back to 8 bits.
func resizedForStorage(_ image: RGBImage, size: Int) -> RGBImage {
    if image.height == size && image.width == size { return image }
    let values = ImageTransforms.resizeShortestSideAndCenterCrop(image, size: size)
    return RGBImage(height: size, width: size, pixels: values.map { UInt8(max(0, min(255, $0.rounded()))) })
}

// MARK: - CSV

/// An OpenCLIP-style CSV/TSV of image paths and captions.
public struct CSVSource: Sendable {
    public var path: String
    public var imageKey = "filepath"
    public var captionKey = "title"
    /// Optional column of long captions (written to `/long_captions`).
    public var longCaptionKey: String? = nil
    /// nil: tab for `.tsv`, comma otherwise.
    public var separator: Character? = nil
    public var format: StoredImageFormat = .jpeg
    /// Rows naming the same image file become one item with their captions in row order (shard format
    /// version 2), at the place of the image's first row; false: one item per row.
    public var groupByImage = false

    public init(path: String) { self.path = path }
}

/// Builds shards from a CSV: one item per row, or with `groupByImage` one item per image file holding the
/// captions of its rows; relative image paths are taken as given (relative to the working directory, as
/// OpenCLIP does) and, when no such file exists, relative to the CSV's folder.
/// Rows with a missing, non-JPEG/PNG or corrupt image, an empty caption, or an image path, caption or
/// long caption that is not valid UTF-8 or holds a NUL byte (`TextProblem`) are skipped and reported; when
/// grouping, so is a row whose long caption differs from that of its image's first row.
@discardableResult
public func buildShards(from source: CSVSource, output: String, shardSize: Int, overwrite: Bool = false,
                        progressStyle: BuildProgress.Style = .silent) throws -> BuildSummary {
    let table = try CSVTable(path: source.path, separator: source.separator)
    let imageColumn = try table.column(source.imageKey)
    let captionColumn = try table.column(source.captionKey)
    let longColumn = try source.longCaptionKey.map { try table.column($0) }
    let writer = try ShardSetWriter(output: output, shardSize: shardSize, overwrite: overwrite,
                                    progress: BuildProgress(total: table.rows.count, style: progressStyle))
    let folder = URL(fileURLWithPath: source.path).deletingLastPathComponent()

    /// The usable rows of one image, in row order.
    struct Group { var imagePath: String; var origins: [String]; var captions: [String]; var longCaption: String? }
    /// What to do at each row, in row order (skips are reported in row order; an item is written at its first row).
    enum Step { case skip(String, SkipReason), write(group: Int), joined }
    var groups: [Group] = [], groupOf: [String: Int] = [:], steps: [Step] = []
    for (n, row) in table.rows.enumerated() {
        let origin = "\(source.path) row \(n + 2) (\((try? table.text(row: n, column: imageColumn)) ?? row[imageColumn].debugDescription))"
        var imagePath: String, longCaption: String? = nil
        let caption: String
        do { imagePath = try table.text(row: n, column: imageColumn) } catch {
            steps.append(.skip(origin, SkipReason("image path \(error)"))); continue
        }
        do { caption = try table.text(row: n, column: captionColumn).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
            steps.append(.skip(origin, SkipReason("caption \(error)"))); continue
        }
        if let longColumn {
            do { longCaption = try table.text(row: n, column: longColumn).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
                steps.append(.skip(origin, SkipReason("long caption \(error)"))); continue
            }
        }
        if !imagePath.hasPrefix("/") && !FileManager.default.fileExists(atPath: imagePath) {
            imagePath = folder.appendingPathComponent(imagePath).path
        }
        guard !caption.isEmpty else { steps.append(.skip(origin, "empty caption")); continue }
        let key = URL(fileURLWithPath: imagePath).standardizedFileURL.path
        if source.groupByImage, let g = groupOf[key] {
            guard groups[g].longCaption == longCaption else {
                steps.append(.skip(origin, "long caption differs from the image's first row")); continue
            }
            groups[g].origins.append(origin)
            groups[g].captions.append(caption)
            steps.append(.joined)
        } else {
            if source.groupByImage { groupOf[key] = groups.count }
            steps.append(.write(group: groups.count))
            groups.append(Group(imagePath: imagePath, origins: [origin], captions: [caption], longCaption: longCaption))
        }
    }
    for step in steps {
        switch step {
        case let .skip(origin, reason):
            writer.skip(source: origin, reason: reason)
        case .joined:
            break
        case let .write(g):
            let group = groups[g]
            let image: ShardImage
            do {
                image = try loadImageFile(group.imagePath, as: source.format)
            } catch {
                for origin in group.origins { writer.skip(source: origin, reason: SkipReason(error)) }
                continue
            }
            try writer.append(ShardItem(image: image, captions: group.captions, longCaption: group.longCaption))
            writer.progress.advance(by: group.origins.count - 1)   // one step per row
        }
    }
    return try writer.finish()
}

// MARK: - Image folder

/// A folder with one sub-folder of images per class (torchvision's ImageFolder layout).
public struct ImageFolderSource: Sendable {
    public var root: String
    public var format: StoredImageFormat = .jpeg
    /// Captions are these templates filled with the class name.
    public var templates = CaptionTemplates(["a photo of a {}."])
    public var seed: UInt64 = 0

    public init(root: String) { self.root = root }
}

/// Builds shards from an image folder: classes are the sub-folders sorted by name (label = position),
/// class names are the folder names with `_` read as a space (also the `classnames` attribute), captions
/// come from the templates. Items are written class by class; the loader shuffles the whole dataset.
@discardableResult
public func buildShards(from source: ImageFolderSource, output: String, shardSize: Int, overwrite: Bool = false,
                        progressStyle: BuildProgress.Style = .silent) throws -> BuildSummary {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    guard manager.fileExists(atPath: source.root, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ShardBuildError(description: "\(source.root): no such folder")
    }
    let rootURL = URL(fileURLWithPath: source.root)
    let classes = ((try? manager.contentsOfDirectory(atPath: source.root)) ?? []).filter { name in
        var d: ObjCBool = false
        return !name.hasPrefix(".") && manager.fileExists(atPath: rootURL.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
    }.sorted()
    guard !classes.isEmpty else { throw ShardBuildError(description: "\(source.root): no class sub-folders") }
    let names = classes.map { $0.replacingOccurrences(of: "_", with: " ") }
    var files: [(path: String, label: Int)] = []
    for (label, folder) in classes.enumerated() {
        let folderURL = rootURL.appendingPathComponent(folder)
        let entries = ((try? manager.contentsOfDirectory(atPath: folderURL.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        files += entries.map { (folderURL.appendingPathComponent($0).path, label) }
    }
    let writer = try ShardSetWriter(output: output, shardSize: shardSize, classnames: names, overwrite: overwrite,
                                    progress: BuildProgress(total: files.count, style: progressStyle))
    for (n, file) in files.enumerated() {
        let image: ShardImage
        do {
            image = try loadImageFile(file.path, as: source.format)
        } catch {
            writer.skip(source: file.path, reason: SkipReason(error))
            continue
        }
        let caption = source.templates.caption(for: names[file.label], index: n, seed: source.seed)
        try writer.append(ShardItem(image: image, caption: caption, label: file.label))
    }
    return try writer.finish()
}

import ArgumentParser
import CommandLineTool
import DataPipeline
import Foundation

/// `make-shards`: converts a dataset into SwiftCLIP shards (HDF5, format version 1, or 2 with several captions per item).
struct MakeShards: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-shards",
        abstract: "Convert a dataset into SwiftCLIP HDF5 shards (shard-00000.h5, …).",
        subcommands: [CSV.self, Karpathy.self, ImageFolder.self, WebDataset.self, FashionMNIST.self, Scenes.self])
}

/// Options every source shares.
struct OutputOptions: ParsableArguments {
    @Option(help: "Folder to write the shards to (created if missing).")
    var output: String

    @Option(help: "Items per shard.")
    var shardSize: Int = 10_000

    @Flag(help: "Replace .h5 files already in the output folder.")
    var overwrite = false

    @Flag(help: "Print nothing but errors and the summary.")
    var quiet = false

    var progressStyle: BuildProgress.Style { quiet ? .silent : .automatic }

    func validate() throws {
        guard shardSize > 0 else { throw ValidationError("--shard-size must be positive, got \(shardSize)") }
    }
}

/// How images are stored: `--image-size N` decodes and resizes them into /images, otherwise /jpeg (JPEG or PNG bytes).
struct ImageOptions: ParsableArguments {
    @Option(help: "Decode, resize the shortest side to N, center-crop N×N and store raw pixels in /images (default: keep the JPEG or PNG bytes in /jpeg).")
    var imageSize: Int?

    var format: StoredImageFormat { imageSize.map { .raw(size: $0) } ?? .jpeg }

    func validate() throws {
        if let imageSize, imageSize <= 0 { throw ValidationError("--image-size must be positive, got \(imageSize)") }
    }
}

func report(_ summary: BuildSummary) {
    print(summary)
}

extension MakeShards {
    struct CSV: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csv", abstract: "From an OpenCLIP-style CSV/TSV of image paths and captions.")

        @Argument(help: "The CSV (comma-separated) or TSV (tab-separated) file.")
        var file: String

        @Option(name: .customLong("csv-image-key"), help: "Column of image paths.")
        var imageKey = "filepath"

        @Option(name: .customLong("csv-caption-key"), help: "Column of captions.")
        var captionKey = "title"

        @Option(name: .customLong("csv-long-caption-key"), help: "Optional column of long captions (/long_captions).")
        var longCaptionKey: String?

        @Option(name: .customLong("csv-separator"), help: "Field separator (default: tab for .tsv, comma otherwise; 'tab' or '\\t' for a tab).")
        var separator: String?

        @Flag(help: "Rows naming the same image become one item holding all their captions (for retrieval sets such as COCO and Flickr30k).")
        var groupByImage = false

        @OptionGroup var images: ImageOptions
        @OptionGroup var outputOptions: OutputOptions

        /// The `--csv-separator` character ('tab' and '\\t' stand for a tab).
        var separatorCharacter: Character? {
            guard let separator else { return nil }
            let resolved = separator == "tab" || separator == "\\t" ? "\t" : separator
            return resolved.count == 1 ? resolved.first : nil
        }

        func validate() throws {
            if let separator, separatorCharacter == nil {
                throw ValidationError("--csv-separator must be one character, got \"\(separator)\"")
            }
        }

        func run() throws {
            var source = CSVSource(path: file)
            source.imageKey = imageKey
            source.captionKey = captionKey
            source.longCaptionKey = longCaptionKey
            if let separatorCharacter { source.separator = separatorCharacter }
            source.groupByImage = groupByImage
            source.format = images.format
            report(try buildShards(from: source, output: outputOptions.output, shardSize: outputOptions.shardSize,
                                   overwrite: outputOptions.overwrite, progressStyle: outputOptions.progressStyle))
        }
    }

    struct Karpathy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "karpathy",
            abstract: "From a Karpathy-split JSON (dataset_coco.json, dataset_flickr30k.json): one item per image with all its captions.",
            discussion: "Images are read from IMAGES/filepath/filename, or IMAGES/filename. A missing or unreadable image fails the build and nothing is written.")

        @Option(help: "The Karpathy-split JSON file.")
        var json: String

        @Option(help: "Folder holding the images (for COCO, the folder holding train2014/ and val2014/).")
        var images: String

        @Option(help: "test, val, train or restval; several joined by commas (e.g. train,restval).")
        var split: String

        @OptionGroup var imageOptions: ImageOptions
        @OptionGroup var outputOptions: OutputOptions

        var splits: Set<String> { Set(split.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }

        func validate() throws {
            let known: Set<String> = ["test", "val", "train", "restval"]
            guard !splits.isEmpty, splits.isSubset(of: known) else {
                throw ValidationError("--split must be test, val, train or restval (or several joined by commas), got \"\(split)\"")
            }
        }

        func run() throws {
            var source = KarpathySource(json: json, images: images, splits: splits)
            source.format = imageOptions.format
            report(try buildShards(from: source, output: outputOptions.output, shardSize: outputOptions.shardSize,
                                   overwrite: outputOptions.overwrite, progressStyle: outputOptions.progressStyle))
        }
    }

    struct ImageFolder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "imagefolder", abstract: "From a folder with one sub-folder of JPEG or PNG images per class.")

        @Argument(help: "The root folder (ROOT/CLASS/IMAGE.jpg or .png).")
        var root: String

        @Option(help: "Caption template file, one template per line with {} for the class name (default: \"a photo of a {}.\").")
        var templates: String?

        @Option(help: "Seed for choosing each item's caption template.")
        var seed: UInt64 = 0

        @OptionGroup var images: ImageOptions
        @OptionGroup var outputOptions: OutputOptions

        func run() throws {
            var source = ImageFolderSource(root: root)
            source.format = images.format
            source.seed = seed
            if let templates { source.templates = try CaptionTemplates(contentsOf: templates) }
            report(try buildShards(from: source, output: outputOptions.output, shardSize: outputOptions.shardSize,
                                   overwrite: outputOptions.overwrite, progressStyle: outputOptions.progressStyle))
        }
    }

    struct WebDataset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "webdataset",
            abstract: "From WebDataset tars as img2dataset writes them ({key}.jpg|.png + {key}.txt), one shard per tar.",
            discussion: "Rerunning the same command resumes: tars whose shard already exists are not read again.")

        @Argument(help: "Tar files (.tar, or gzip-compressed .tar.gz / .tgz), or folders standing for every such tar in them (sorted by name).")
        var tars: [String]

        @Option(help: "Folder to write the shards to (created if missing): TAR-NAME.h5 for each tar.")
        var output: String

        @Option(help: "Tars converted at the same time.")
        var workers = ProcessInfo.processInfo.activeProcessorCount

        @Flag(help: "Convert every tar again, and remove other .h5 files from the output folder.")
        var overwrite = false

        @Flag(help: "Print nothing but errors and the summary.")
        var quiet = false

        @OptionGroup var images: ImageOptions

        func validate() throws {
            guard !tars.isEmpty else { throw ValidationError("give at least one tar file or folder") }
            guard workers > 0 else { throw ValidationError("--workers must be positive, got \(workers)") }
        }

        func run() throws {
            var source = try WebDatasetShardBuilder(paths: tars)
            source.format = images.format
            source.workers = workers
            print(try buildShards(from: source, output: output, overwrite: overwrite,
                                  progressStyle: quiet ? .silent : .automatic))
        }
    }

    struct FashionMNIST: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fashion-mnist", abstract: "From the Fashion-MNIST IDX files.")

        @Option(help: "Folder holding the *-ubyte.gz IDX files.")
        var directory = FashionMNISTSource.defaultDirectory

        @Option(help: "train or test.")
        var split = "train"

        @Option(help: "Caption template file (default: Configs/templates/fashion-train.txt for train, Configs/templates/fashion.txt for test).")
        var templates: String?

        @Option(help: "Seed for choosing each item's caption template.")
        var seed: UInt64 = 0

        @Option(help: "Only the first N items.")
        var limit: Int?

        @OptionGroup var outputOptions: OutputOptions

        func validate() throws {
            guard FashionMNISTSource.Split(rawValue: split) != nil else {
                throw ValidationError("--split must be train or test, got \"\(split)\"")
            }
            if let limit, limit <= 0 { throw ValidationError("--limit must be positive, got \(limit)") }
        }

        func run() throws {
            let split = FashionMNISTSource.Split(rawValue: split)!
            let templateFile = templates
                ?? (split == .train ? "Configs/templates/fashion-train.txt" : "Configs/templates/fashion.txt")
            var source = FashionMNISTSource(templates: try CaptionTemplates(contentsOf: templateFile))
            source.directory = directory
            source.split = split
            source.limit = limit
            source.seed = seed
            report(try buildShards(from: source, output: outputOptions.output, shardSize: outputOptions.shardSize,
                                   overwrite: outputOptions.overwrite, progressStyle: outputOptions.progressStyle))
        }
    }

    struct Scenes: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scenes",
            abstract: "Procedurally drawn scenes of 2–4 colored shapes with long and short captions (Long-CLIP, FILIP).")

        @Option(help: "Number of images.")
        var count: Int

        @Option(help: "Seed: the same seed and count give the same shards.")
        var seed: UInt64 = 0

        @Option(help: "Height and width of the images in pixels (at least 24).")
        var imageSize = 64

        @OptionGroup var outputOptions: OutputOptions

        func validate() throws {
            guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
            guard imageSize >= 24 else { throw ValidationError("--image-size must be at least 24, got \(imageSize)") }
        }

        func run() throws {
            let source = ScenesSource(count: count, seed: seed, imageSize: imageSize)
            report(try buildShards(from: source, output: outputOptions.output, shardSize: outputOptions.shardSize,
                                   overwrite: outputOptions.overwrite, progressStyle: outputOptions.progressStyle))
        }
    }
}

ShardSetWriter.removeStagingOnSignals()
MakeShards.mainWithOneLineErrors()

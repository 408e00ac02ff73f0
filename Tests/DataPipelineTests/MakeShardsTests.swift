import DataPipeline
import Foundation
import XCTest

final class MakeShardsTests: XCTestCase {
    private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private func writeJPEG(_ path: String, height: Int, width: Int, seed: UInt64) throws -> [UInt8] {
        let bytes = try JPEG.encode(syntheticImage(height: height, width: width, seed: seed), quality: 92)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return bytes
    }

    private func evalBatches(_ dataset: ShardDataset, imageSize: Int) throws -> [Batch] {
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: 3, imageSize: imageSize, contextLength: 8,
                                                   augmentation: Augmentation(normalization: .unit), mode: .eval),
            tokenizer: wordTokenizer(contextLength: 8), log: { _ in })
        var batches: [Batch] = []
        while let batch = try loader.next() { batches.append(batch) }
        return batches
    }

    func testCSVTableParsesQuotedFields() throws {
        let path = try temporaryDirectory(self) + "/t.csv"
        try "\u{FEFF}filepath,title\r\na.jpg,\"a, b and \"\"c\"\"\"\r\n\"b.jpg\",\"two\nlines\"\nc.jpg,plain\n\n".write(toFile: path, atomically: true, encoding: .utf8)
        let table = try CSVTable(path: path)
        XCTAssertEqual(table.header, ["filepath", "title"])
        XCTAssertEqual(table.rows, [["a.jpg", "a, b and \"c\""], ["b.jpg", "two\nlines"], ["c.jpg", "plain"]])
        XCTAssertThrowsError(try table.column("caption")) { error in
            XCTAssertEqual("\(error)", "\(path): no column \"caption\" (columns: filepath, title)")
        }
        XCTAssertEqual(CSVTable.defaultSeparator(for: "x.TSV"), "\t")
    }

    func testCSVRoundTripKeepsJPEGBytesAndCaptions() throws {
        let dir = try temporaryDirectory(self)
        var expected: [(bytes: [UInt8], caption: String)] = []
        var lines = ["filepath,title"]
        for i in 0..<5 {
            let bytes = try writeJPEG(dir + "/img\(i).jpg", height: 16, width: 16, seed: UInt64(i))
            let caption = i == 2 ? "a caption, with \"quotes\"" : "caption \(i)"
            expected.append((bytes, caption))
            lines.append("img\(i).jpg,\"\(caption.replacingOccurrences(of: "\"", with: "\"\""))\"")
        }
        try "not a jpeg".write(toFile: dir + "/bad.jpg", atomically: true, encoding: .utf8)
        lines += ["missing.jpg,gone", "bad.jpg,bad", "img0.jpg,  "]
        try lines.joined(separator: "\n").write(toFile: dir + "/data.csv", atomically: true, encoding: .utf8)

        let summary = try buildShards(from: CSVSource(path: dir + "/data.csv"), output: dir + "/out", shardSize: 2)
        XCTAssertEqual(summary.items, 5)
        XCTAssertEqual(summary.shards, ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"])
        XCTAssertEqual(summary.skipped.items.map(\.reason), ["missing file", "not a JPEG or PNG image", "empty caption"])
        XCTAssertTrue(summary.description.contains("skipped 3 items"), summary.description)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted(), summary.shards)

        let dataset = try ShardDataset(path: dir + "/out")
        XCTAssertEqual(dataset.count, 5)
        for i in 0..<5 {
            XCTAssertEqual(try dataset.item(at: i).image, .jpeg(expected[i].bytes))
        }
        // Through the loader: the same pixels (a 16×16 JPEG at image size 16 is not resampled) and captions.
        let batches = try evalBatches(dataset, imageSize: 16)
        XCTAssertEqual(batches.flatMap(\.captions), expected.map(\.caption))
        let pixels = try expected.flatMap { try JPEG.decode($0.bytes).pixels.map { Float($0) / 255 } }
        assertClose(batches.flatMap(\.images), pixels, accuracy: 1e-6)
    }

    /// One rule for text (issue 25.4): a caption, long caption or image path that holds a NUL byte or
    /// is not valid UTF-8 skips its row, counted by reason; the other rows keep their text exactly.
    func testCSVFieldsWithANULByteOrInvalidUTF8SkipTheirRow() throws {
        let dir = try temporaryDirectory(self)
        let bytes = try writeJPEG(dir + "/a.jpg", height: 8, width: 8, seed: 1)
        let rows: [[UInt8]] = [
            Array("filepath,title,long".utf8),
            Array("a.jpg,line1,long one".utf8),
            Array("a.jpg,line2".utf8) + [0] + Array("nul,long two".utf8),
            Array("a.jpg,caf".utf8) + [0xE9] + Array(",long three".utf8),          // Latin-1 é
            Array("a.jpg,line4,long".utf8) + [0] + Array("four".utf8),
            Array("a.jpg,line5,long".utf8) + [0xFF],
            Array("a.jpg".utf8) + [0] + Array("x.jpg,line6,long six".utf8),
            Array("a.jpg,\"café, ünï\",long seven".utf8),
        ]
        try Data(rows.joined(separator: [0x0A])).write(to: URL(fileURLWithPath: dir + "/data.csv"))
        var source = CSVSource(path: dir + "/data.csv")
        source.longCaptionKey = "long"
        let summary = try buildShards(from: source, output: dir + "/out", shardSize: 10)
        XCTAssertEqual(summary.skipped.items.map(\.reason), ["caption holds a NUL byte", "caption not valid UTF-8",
                                                            "long caption holds a NUL byte", "long caption not valid UTF-8",
                                                            "image path holds a NUL byte"])
        XCTAssertEqual(summary.skipped.items.map { $0.source.components(separatedBy: " (")[0] },
                       (3...7).map { "\(dir)/data.csv row \($0)" })
        let reader = try ShardReader(path: dir + "/out/shard-00000.h5")
        XCTAssertEqual(try reader.captions(), ["line1", "café, ünï"])
        XCTAssertEqual(try (0..<2).map { try reader.longCaption(at: $0) }, ["long one", "long seven"])
        XCTAssertEqual(try reader.image(at: 1), .jpeg(bytes))
    }

    /// Template files follow the text rule too: a line with a NUL byte or invalid UTF-8 is refused, named.
    func testTemplateFileLinesWithANULByteOrInvalidUTF8AreRefused() throws {
        let path = try temporaryDirectory(self) + "/t.txt"
        for (bad, problem) in [([0x00] as [UInt8], "holds a NUL byte"), ([0xFF], "not valid UTF-8")] {
            try Data(Array("# header\na photo of a {}.\na {} ".utf8) + bad + Array("\n".utf8)).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try CaptionTemplates(contentsOf: path)) { error in
                XCTAssertEqual("\(error)", "\(path) line 3: \(problem)")
            }
        }
    }

    func testCSVRawStorageAndCustomKeys() throws {
        let dir = try temporaryDirectory(self)
        var lines = ["caption\tpath\tlong"]
        var decoded: [RGBImage] = []
        for i in 0..<4 {
            let bytes = try writeJPEG(dir + "/p\(i).jpg", height: 20 + i, width: 30, seed: UInt64(10 + i))
            decoded.append(try JPEG.decode(bytes))
            lines.append("tsv caption \(i)\tp\(i).jpg\tlong caption \(i). second sentence.")
        }
        try lines.joined(separator: "\n").write(toFile: dir + "/data.tsv", atomically: true, encoding: .utf8)
        var source = CSVSource(path: dir + "/data.tsv")
        source.imageKey = "path"
        source.captionKey = "caption"
        source.longCaptionKey = "long"
        source.format = .raw(size: 12)
        let summary = try buildShards(from: source, output: dir + "/raw", shardSize: 10)
        XCTAssertEqual(summary.items, 4)
        let reader = try ShardReader(path: dir + "/raw/shard-00000.h5")
        XCTAssertEqual(reader.storage, .raw(height: 12, width: 12))
        XCTAssertEqual(try reader.longCaption(at: 3), "long caption 3. second sentence.")
        for i in 0..<4 {
            guard case let .raw(image) = try reader.image(at: i) else { return XCTFail() }
            let reference = ImageTransforms.resizeShortestSideAndCenterCrop(decoded[i], size: 12)
            assertClose(image.pixels.map(Float.init), reference, accuracy: 0.5)
        }
        // Raw pixels come back exactly through the loader.
        let stored = try (0..<4).flatMap { i -> [Float] in
            guard case let .raw(image) = try reader.image(at: i) else { return [] }
            return image.pixels.map { Float($0) / 255 }
        }
        assertClose(try evalBatches(ShardDataset(path: dir + "/raw"), imageSize: 12).flatMap(\.images), stored, accuracy: 1e-6)
    }

    func testImageFolder() throws {
        let dir = try temporaryDirectory(self)
        for (c, name) in ["golden_retriever", "cat"].enumerated() {
            try FileManager.default.createDirectory(atPath: "\(dir)/root/\(name)", withIntermediateDirectories: true)
            for i in 0..<3 { _ = try writeJPEG("\(dir)/root/\(name)/\(i).jpg", height: 10, width: 14, seed: UInt64(c * 10 + i)) }
        }
        try "x".write(toFile: "\(dir)/root/cat/notes.txt", atomically: true, encoding: .utf8)
        var source = ImageFolderSource(root: dir + "/root")
        source.format = .raw(size: 8)
        source.templates = CaptionTemplates(["a photo of a {}.", "a {} again."])
        let summary = try buildShards(from: source, output: dir + "/out", shardSize: 4)
        XCTAssertEqual(summary.items, 6)
        XCTAssertEqual(summary.skipped.count, 1)
        let dataset = try ShardDataset(path: dir + "/out")
        XCTAssertEqual(dataset.classnames, ["cat", "golden retriever"])
        XCTAssertEqual(dataset.shards.flatMap { $0.labels! }, [0, 0, 0, 1, 1, 1])
        let captions = try dataset.shards.flatMap { try $0.captions() }
        XCTAssertTrue(captions[0] == "a photo of a cat." || captions[0] == "a cat again.", captions[0])
        XCTAssertTrue(captions[5].contains("golden retriever"))
        XCTAssertThrowsError(try buildShards(from: ImageFolderSource(root: dir + "/nope"), output: dir + "/o2", shardSize: 4))
    }

    /// A template file with Windows line ends holds one template per line ("\r\n" is one Swift
    /// Character, so splitting the string on "\n" would see a single line).
    func testTemplateFileWithCRLFLineEnds() throws {
        let path = try temporaryDirectory(self) + "/templates.txt"
        try Data("# comment\r\na photo of a {}.\r\n\r\na {} again.\r\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try CaptionTemplates(contentsOf: path).templates, ["a photo of a {}.", "a {} again."])
    }

    func testFashionMNIST() throws {
        let directory = FashionMNISTSource.defaultDirectory
        guard FileManager.default.fileExists(atPath: directory + "/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST is not installed at \(directory)")
        }
        let dir = try temporaryDirectory(self)
        let templates = try CaptionTemplates(contentsOf: repositoryRoot.appendingPathComponent("Configs/templates/fashion-train.txt").path)
        XCTAssertEqual(templates.templates.count, 6)
        var source = FashionMNISTSource(templates: templates)
        source.split = .test
        source.limit = 25
        let summary = try buildShards(from: source, output: dir + "/fm", shardSize: 10)
        XCTAssertEqual(summary.items, 25)
        XCTAssertEqual(summary.shards.count, 3)

        let images = try FashionMNISTSource.readIDX(source.imagesPath, expectedRank: 3)
        let labels = try FashionMNISTSource.readIDX(source.labelsPath, expectedRank: 1)
        XCTAssertEqual(images.dimensions, [10000, 28, 28])
        let dataset = try ShardDataset(path: dir + "/fm")
        XCTAssertEqual(dataset.classnames, FashionMNISTSource.classnames)
        for i in [0, 9, 10, 24] {
            let item = try dataset.item(at: i)
            XCTAssertEqual(item.label, Int(labels.values[i]))
            guard case let .raw(image) = item.image else { return XCTFail() }
            XCTAssertEqual(image, RGBImage(height: 28, width: 28, gray: Array(images.values[(i * 784)..<((i + 1) * 784)])))
            let name = FashionMNISTSource.classnames[item.label!]
            XCTAssertTrue(templates.templates.map { CaptionTemplates.fill($0, with: name) }.contains(item.caption), item.caption)
        }
        // Captions vary across items and are a function of the seed.
        let captions = try dataset.shards.flatMap { try $0.captions() }
        XCTAssertGreaterThan(Set(captions).count, 5)
        source.seed = 1
        try buildShards(from: source, output: dir + "/fm1", shardSize: 10)
        XCTAssertNotEqual(try ShardDataset(path: dir + "/fm1").shards.flatMap { try $0.captions() }, captions)
    }

    func testEvaluationTemplatesDifferFromTrainingOnes() throws {
        let train = try CaptionTemplates(contentsOf: repositoryRoot.appendingPathComponent("Configs/templates/fashion-train.txt").path)
        let eval = try CaptionTemplates(contentsOf: repositoryRoot.appendingPathComponent("Configs/templates/fashion.txt").path)
        XCTAssertEqual(eval.templates.count, 4)
        XCTAssertTrue(Set(train.templates).isDisjoint(with: eval.templates))
    }

    func testFailuresLeaveNoOutput() throws {
        let dir = try temporaryDirectory(self)
        try "filepath,title\nmissing.jpg,x\n".write(toFile: dir + "/all-bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try buildShards(from: CSVSource(path: dir + "/all-bad.csv"), output: dir + "/out", shardSize: 2)) { error in
            XCTAssertTrue("\(error)".contains("no items to write"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
        var missingColumn = CSVSource(path: dir + "/all-bad.csv")
        missingColumn.captionKey = "caption"
        XCTAssertThrowsError(try buildShards(from: missingColumn, output: dir + "/out", shardSize: 2)) { error in
            XCTAssertEqual("\(error)", "\(dir)/all-bad.csv: no column \"caption\" (columns: filepath, title)")
        }
        XCTAssertThrowsError(try buildShards(from: CSVSource(path: dir + "/nope.csv"), output: dir + "/out", shardSize: 2)) { error in
            XCTAssertEqual("\(error)", "\(dir)/nope.csv: cannot read CSV file")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
        // An output that already holds shards is refused without --overwrite, and replaced with it.
        _ = try writeJPEG(dir + "/ok.jpg", height: 8, width: 8, seed: 1)
        try "filepath,title\nok.jpg,fine\n".write(toFile: dir + "/ok.csv", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/full", withIntermediateDirectories: true)
        try "old".write(toFile: dir + "/full/shard-00007.h5", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try buildShards(from: CSVSource(path: dir + "/ok.csv"), output: dir + "/full", shardSize: 2))
        try buildShards(from: CSVSource(path: dir + "/ok.csv"), output: dir + "/full", shardSize: 2, overwrite: true)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/full"), ["shard-00000.h5"])
    }

    // MARK: - Skip reasons

    /// Every skipped row is counted under its reason — missing file, not a JPEG, corrupt JPEG (whatever
    /// libjpeg's wording), empty caption — both in the summary and in the one-line error when nothing at
    /// all could be written.
    func testSkipReasonsAreCountedAlways() throws {
        let dir = try temporaryDirectory(self)
        let good = try JPEG.encode(syntheticImage(height: 32, width: 32, seed: 1), quality: 90)
        try Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: dir + "/truncated.jpg"))
        try Data(good.prefix(200)).write(to: URL(fileURLWithPath: dir + "/headers-only.jpg"))
        try Data([0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0x42, count: 50)).write(to: URL(fileURLWithPath: dir + "/garbage.jpg"))
        try "GIF89a".write(toFile: dir + "/fake.jpg", atomically: true, encoding: .utf8)
        let rows = ["missing1.jpg,a", "missing2.jpg,b", "missing3.jpg,c", "truncated.jpg,d", "headers-only.jpg,e",
                    "garbage.jpg,f", "fake.jpg,g", "truncated.jpg,  "]
        try (["filepath,title"] + rows).joined(separator: "\n").write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try buildShards(from: CSVSource(path: dir + "/bad.csv"), output: dir + "/out", shardSize: 2)) { error in
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), message)
            let csv = dir + "/bad.csv"
            XCTAssertTrue(message.hasPrefix("\(dir)/out: no items to write, all 8 input items were skipped: "
                + "3 × missing file (e.g. \(csv) row 2 (missing1.jpg)), 3 × corrupt JPEG (e.g. \(csv) row 5 (truncated.jpg): "),
                message)
            XCTAssertTrue(message.hasSuffix("1 × not a JPEG or PNG image (e.g. \(csv) row 8 (fake.jpg)), "
                + "1 × empty caption (e.g. \(csv) row 9 (truncated.jpg))"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
        // With one good row the same reasons follow the summary line.
        try Data(good).write(to: URL(fileURLWithPath: dir + "/good.jpg"))
        try (["filepath,title", "good.jpg,fine"] + rows).joined(separator: "\n")
            .write(toFile: dir + "/mixed.csv", atomically: true, encoding: .utf8)
        let summary = try buildShards(from: CSVSource(path: dir + "/mixed.csv"), output: dir + "/out", shardSize: 2)
        let lines = summary.description.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("wrote 1 items in 1 shard"), lines[0])
        XCTAssertEqual(lines[1], "skipped 8 items:")
        XCTAssertEqual(lines[2], "  3 × missing file (\(dir)/mixed.csv row 3 (missing1.jpg), \(dir)/mixed.csv row 4 (missing2.jpg), …)")
        XCTAssertEqual(lines.dropFirst(2).map { $0.split(separator: "(")[0] },
                       ["  3 × missing file ", "  3 × corrupt JPEG ", "  1 × not a JPEG or PNG image ", "  1 × empty caption "])
    }

    func testUnwritableOutputIsPermissionDenied() throws {
        let dir = try temporaryDirectory(self)
        _ = try writeJPEG(dir + "/ok.jpg", height: 8, width: 8, seed: 1)
        try "filepath,title\nok.jpg,fine\n".write(toFile: dir + "/ok.csv", atomically: true, encoding: .utf8)
        let locked = dir + "/locked"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        chmod(locked, 0o555)
        addTeardownBlock { chmod(locked, 0o755) }
        let errors = try asUnprivilegedUser { () -> [String] in
            [locked, locked + "/new"].map { output in
                do { try buildShards(from: CSVSource(path: dir + "/ok.csv"), output: output, shardSize: 2); return "built" }
                catch { return "\(error)" }
            }
        }
        XCTAssertEqual(errors, ["permission denied: \(locked)", "permission denied: \(locked)/new"])
    }

    // MARK: - Interrupted builds

    /// A build killed by a signal leaves `.make-shards-partial-PID/`; the next build into the same folder
    /// removes those whose process is gone and keeps those of a live process (a concurrent build).
    func testStaleStagingFoldersAreRemovedByTheNextBuild() throws {
        let dir = try temporaryDirectory(self)
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        let stale = "\(dir)/out/.make-shards-partial-\(exited.processIdentifier)"
        let live = "\(dir)/out/.make-shards-partial-1"
        for folder in [stale, live] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try writeRawShard(folder + "/shard-00000.h5", count: 2)
        }
        _ = try writeJPEG(dir + "/ok.jpg", height: 8, width: 8, seed: 1)
        try "filepath,title\nok.jpg,fine\n".write(toFile: dir + "/ok.csv", atomically: true, encoding: .utf8)
        try buildShards(from: CSVSource(path: dir + "/ok.csv"), output: dir + "/out", shardSize: 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted(),
                       [".make-shards-partial-1", "shard-00000.h5"])
    }

    /// SIGINT (and SIGTERM) during `make-shards` removes its staging folder, and the output folder it created.
    func testInterruptedMakeShardsLeavesNothing() throws {
        let binary = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("make-shards")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("make-shards is not built next to the tests (\(binary.path))")
        }
        let dir = try temporaryDirectory(self)
        for signal in [SIGINT, SIGTERM] {
            let output = "\(dir)/out-\(signal)"
            let process = Process()
            process.executableURL = binary
            process.arguments = ["scenes", "--count", "1000000", "--shard-size", "50", "--quiet", "--output", output]
            try process.run()
            // Wait until it has written a shard into its staging folder, then interrupt it.
            let staging = "\(output)/.make-shards-partial-\(process.processIdentifier)"
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning && Date() < deadline
                && ((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? []).filter({ $0.hasSuffix(".h5") }).isEmpty {
                usleep(20_000)
            }
            XCTAssertTrue(process.isRunning, "make-shards ended before it was interrupted")
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 128 + signal)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(output) left behind")
        }
    }
}

import DataPipeline
import Foundation
import TensorCore
import XCTest

/// Shards with the wrong element types, shapes, lengths or permissions: each is refused when opened with
/// one line naming the file, the dataset and the cause — once per shard, never once per item.
final class BadShardTests: XCTestCase {
    private func openError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> ShardError? {
        do {
            _ = try ShardDataset(path: path)
            XCTFail("\(path) opened", file: file, line: line)
            return nil
        } catch let error as ShardError {
            XCTAssertFalse(error.description.contains("\n"), error.description, file: file, line: line)
            return error
        } catch {
            XCTFail("not a ShardError: \(error)", file: file, line: line)
            return nil
        }
    }

    /// A version-1 shard file with whatever datasets `body` writes.
    private func makeShard(_ path: String, _ body: (HDF5File) throws -> Void) throws {
        let file = try HDF5File(path: path, mode: .create)
        try file.setAttribute("format", string: "swiftclip-shard")
        try file.setAttribute("version", integer: 1)
        try body(file)
        try file.close()
    }

    private let captions32 = (0..<32).map { "caption \($0)" }

    func testNonUInt8ImagesAreOneErrorForTheShard() throws {
        let dir = try temporaryDirectory(self)
        let shape = [32, 4, 4, 3], n = 32 * 4 * 4 * 3
        let cases: [(String, (HDF5File) throws -> Void)] = [
            ("float32", { try $0.write("/images", shape: shape, values: [Float](repeating: 0.5, count: n)) }),
            ("int16", { try $0.write("/images", shape: shape, values: [Int16](repeating: 7, count: n)) }),
            ("int8", { try $0.write("/images", shape: shape, values: [Int8](repeating: 7, count: n)) }),
            ("float64", { try $0.write("/images", shape: shape, values: [Double](repeating: 0.5, count: n)) }),
        ]
        for (type, writeImages) in cases {
            let path = "\(dir)/\(type).h5"
            try makeShard(path) { file in
                try writeImages(file)
                try file.writeStrings("/captions", values: captions32)
            }
            let error = try XCTUnwrap(openError(path))
            XCTAssertEqual(error.kind, .invalidDataset)
            XCTAssertEqual(error.description, "\(path): /images has \(type) elements, expected uint8")
        }
    }

    func testLabelsOfTheWrongShapeOrTypeNameTheirRealShape() throws {
        let dir = try temporaryDirectory(self)
        let images = [UInt8](repeating: 1, count: 32 * 2 * 2 * 3)
        let matrix = dir + "/matrix.h5"
        try makeShard(matrix) { file in
            try file.write("/images", shape: [32, 2, 2, 3], values: images)
            try file.writeStrings("/captions", values: captions32)
            try file.write("/labels", shape: [32, 2], values: [Int64](repeating: 1, count: 64))
        }
        XCTAssertEqual(openError(matrix)?.description, "\(matrix): /labels has shape [32, 2], expected [N]")
        let floats = dir + "/floats.h5"
        try makeShard(floats) { file in
            try file.write("/images", shape: [32, 2, 2, 3], values: images)
            try file.writeStrings("/captions", values: captions32)
            try file.write("/labels", shape: [32], values: [Float](repeating: 1, count: 32))
        }
        XCTAssertEqual(openError(floats)?.description, "\(floats): /labels has float32 elements, expected integers")
    }

    func testCaptionsAndJPEGsOfTheWrongType() throws {
        let dir = try temporaryDirectory(self)
        let numericCaptions = dir + "/captions.h5"
        try makeShard(numericCaptions) { file in
            try file.writeVariableBytes("/jpeg", values: [[0xFF, 0xD8, 0xFF]])
            try file.write("/captions", shape: [1], values: [Int32(5)])
        }
        XCTAssertEqual(openError(numericCaptions)?.description, "\(numericCaptions): /captions has int32 elements, expected strings")
        let fixedJPEG = dir + "/jpeg.h5"
        try makeShard(fixedJPEG) { file in
            try file.write("/jpeg", shape: [1], values: [UInt8(0xFF)])
            try file.writeStrings("/captions", values: ["x"])
        }
        XCTAssertEqual(openError(fixedJPEG)?.description,
                       "\(fixedJPEG): /jpeg has uint8 elements, expected variable-length uint8")
    }

    /// Every combination of each dataset being absent, right, of the wrong type, of the wrong rank or of
    /// another length: the shard opens exactly when the oracle says so, and otherwise the one-line error
    /// names the offending dataset. Opened shards give every item or a skip reason through the loader.
    func testFuzzedShardStructures() throws {
        let dir = try temporaryDirectory(self)
        enum Variant: CaseIterable { case absent, good, wrongType, wrongRank, wrongLength }
        let n = 4
        var rng = RandomGenerator(seed: 13)
        for trial in 0..<60 {
            func pick() -> Variant { Variant.allCases[Int(rng.nextUniform() * 5) % 5] }
            let images = pick(), captions = pick(), labels = pick()
            let path = "\(dir)/fuzz-\(trial).h5"
            try makeShard(path) { file in
                let rows = { (v: Variant) in v == .wrongLength ? n + 1 : n }
                switch images {
                case .absent: break
                case .good, .wrongLength:
                    try file.write("/images", shape: [rows(images), 3, 3, 3], values: [UInt8](repeating: 9, count: rows(images) * 27))
                case .wrongType: try file.write("/images", shape: [n, 3, 3, 3], values: [Float](repeating: 1, count: n * 27))
                case .wrongRank: try file.write("/images", shape: [n, 27], values: [UInt8](repeating: 9, count: n * 27))
                }
                switch captions {
                case .absent: break
                case .good, .wrongLength: try file.writeStrings("/captions", values: (0..<rows(captions)).map { "c \($0)" })
                case .wrongType: try file.write("/captions", shape: [n], values: [Int64](repeating: 1, count: n))
                case .wrongRank: try file.write("/captions", shape: [n, 1], values: [Int64](repeating: 1, count: n))
                }
                switch labels {
                case .absent: break
                case .good, .wrongLength: try file.write("/labels", shape: [rows(labels)], values: [Int64](repeating: 0, count: rows(labels)))
                case .wrongType: try file.write("/labels", shape: [n], values: [Double](repeating: 0, count: n))
                case .wrongRank: try file.write("/labels", shape: [n, 2], values: [Int64](repeating: 0, count: 2 * n))
                }
            }
            let present = [("/images", images), ("/captions", captions), ("/labels", labels)].filter { $0.1 != .absent }
            let malformed = present.first { $0.1 == .wrongType || $0.1 == .wrongRank }
            let lengths = Set(present.map { $0.1 == .wrongLength ? n + 1 : n })
            let context = "trial \(trial): images \(images), captions \(captions), labels \(labels)"
            if let malformed {
                let error = try XCTUnwrap(openError(path), context)
                XCTAssertTrue(error.description.hasPrefix("\(path): \(malformed.0) has "), "\(context): \(error)")
            } else if present.isEmpty || (images == .absent && captions == .absent) {
                XCTAssertNotNil(openError(path), context)
            } else if lengths.count > 1 {
                XCTAssertEqual(openError(path)?.kind, .inconsistentLengths, context)
            } else {
                let length = lengths.first!
                let dataset = try ShardDataset(path: path)
                XCTAssertEqual(dataset.count, length, context)
                let loader = try DataLoader(
                    dataset: dataset,
                    configuration: DataLoaderConfiguration(batchSize: 2, imageSize: 3, contextLength: 4, mode: .eval),
                    tokenizer: wordTokenizer(contextLength: 4), log: { _ in })
                var items = 0
                while let batch = try loader.next() { items += batch.size }
                let usable = images != .absent && captions != .absent
                XCTAssertEqual(items, usable ? length : 0, context)
                XCTAssertEqual(loader.skippedCount, usable ? 0 : length, context)
            }
        }
    }

    // MARK: - Paths and permissions

    func testMissingShardFileAndFolder() throws {
        let dir = try temporaryDirectory(self)
        XCTAssertEqual(openError(dir + "/nope.h5")?.description, "no such file: \(dir)/nope.h5")
        XCTAssertEqual(openError(dir + "/nope")?.description, "no such file: \(dir)/nope")
        XCTAssertEqual(openError(dir + "/nope")?.kind, .missingFile)
        XCTAssertEqual(openError(dir)?.description, "no .h5 shards in folder: \(dir)")
    }

    func testUnreadableShardFolderIsPermissionDenied() throws {
        let dir = try temporaryDirectory(self)
        let folder = dir + "/shards"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeRawShard(folder + "/shard-00000.h5", count: 2)
        chmod(folder, 0o000)
        addTeardownBlock { chmod(folder, 0o755) }
        let errors = try asUnprivilegedUser { () -> [String] in
            [folder, folder + "/shard-00000.h5"].map { path in
                do { _ = try ShardDataset(path: path); return "opened" } catch { return "\(error)" }
            }
        }
        XCTAssertEqual(errors, ["permission denied: \(folder)", "permission denied: \(folder)/shard-00000.h5"])
    }

    func testUnreadableShardFileIsPermissionDenied() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/shard-00000.h5"
        try writeRawShard(path, count: 2)
        chmod(path, 0o000)
        let errors = try asUnprivilegedUser { () -> [String] in
            [path, dir].map { path in
                do { _ = try ShardDataset(path: path); return "opened" } catch { return "\(error)" }
            }
        }
        XCTAssertEqual(errors, ["permission denied: \(path)", "permission denied: \(path)"])
    }
}

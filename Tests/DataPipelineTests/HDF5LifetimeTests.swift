import DataPipeline
import Foundation
import XCTest

/// HDF5 must never print its own error stacks (they appeared after `done:` in train and evaluate runs),
/// and every handle a reader opens is closed exactly once, when the reader goes away.
final class HDF5LifetimeTests: XCTestCase {
    /// HDF5's error printing is per thread in its thread-safe build: failures on a fresh thread (a loader
    /// worker, a thread releasing a reader at exit) must be as silent as on the first one.
    func testFailuresOnAnyThreadPrintNothing() throws {
        let dir = try temporaryDirectory(self)
        try "not hdf5".write(toFile: dir + "/text.h5", atomically: true, encoding: .utf8)
        try writeRawShard(dir + "/good.h5", count: 2)
        for _ in 0..<3 {
            let printed = try capturingStandardError {
                let errors = try onNewThread { () -> [String] in
                    var errors: [String] = []
                    do { _ = try HDF5File(path: dir + "/text.h5", mode: .readOnly) } catch { errors.append("\(error)") }
                    do { _ = try HDF5File(path: dir + "/missing/x.h5", mode: .create) } catch { errors.append("\(error)") }
                    let file = try HDF5File(path: dir + "/good.h5", mode: .readOnly)
                    do { _ = try file.readUInt8("/captions") } catch { errors.append("\(error)") }
                    do { _ = try file.readStrings("/images", rows: 0..<1) } catch { errors.append("\(error)") }
                    return errors
                }
                XCTAssertEqual(errors.count, 4, "\(errors)")
                XCTAssertTrue(errors[0].hasPrefix("\(dir)/text.h5: cannot open HDF5 file"), errors[0])
            }
            XCTAssertEqual(printed, "")
        }
    }

    /// A loader's worker threads must not keep the dataset (and its open HDF5 handles) alive after the
    /// loader is gone: released late, at process exit, they were closed after HDF5 had shut down.
    func testDroppingALoaderClosesItsShardsAtOnce() throws {
        let dir = try temporaryDirectory(self)
        try writeRawShard(dir + "/shard-0.h5", count: 12)
        try writeJPEGShard(dir + "/shard-1.h5", count: 12)
        let baseline = HDF5File.openObjectCount
        for round in 0..<20 {
            do {
                let loader = try DataLoader(
                    dataset: try ShardDataset(path: dir),
                    configuration: DataLoaderConfiguration(batchSize: 4, imageSize: 8, contextLength: 6, threads: 3),
                    tokenizer: wordTokenizer(contextLength: 6), log: { _ in })
                _ = try loader.next()
                XCTAssertGreaterThan(HDF5File.openObjectCount, baseline)
            }
            XCTAssertEqual(HDF5File.openObjectCount, baseline, "round \(round): handles still open after the loader was dropped")
        }
    }

    func testCloseIsIdempotentAndLaterCallsFail() throws {
        let path = try temporaryDirectory(self) + "/s.h5"
        try writeRawShard(path, count: 3)
        let baseline = HDF5File.openObjectCount
        let file = try HDF5File(path: path, mode: .readOnly)
        _ = try file.readStrings("/captions")
        _ = try file.readUInt8("/images", rows: 0..<1)
        let printed = try capturingStandardError {
            try file.close()
            try file.close()
            XCTAssertThrowsError(try file.readStrings("/captions")) { error in
                XCTAssertEqual("\(error)", "\(path): /captions: file is closed")
            }
        }
        XCTAssertEqual(printed, "")
        XCTAssertEqual(HDF5File.openObjectCount, baseline)
    }
}

import Foundation
import SwiftCLIP
import XCTest
@testable import Training

/// TensorBoard event files: CRC-32C against RFC 3720's vectors, the encoder byte for byte against
/// files written by tensorboard's own protobuf classes and record writer, the reader against a file
/// written by PyTorch's `SummaryWriter` (Tests/Fixtures/tensorboard, Scripts/make-tensorboard-fixtures.py),
/// and a training run's events against its `metrics.jsonl`, across a resume.
final class TensorBoardTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/tensorboard").standardizedFileURL

    func testCRC32CMatchesRFC3720TestVectors() {
        // RFC 3720 appendix B.4 (the 32-byte vectors print the CRC bytes little-endian first), and the
        // common check value of "123456789".
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        // B.4's iSCSI SCSI Read (10) command PDU, 48 bytes (its CRC as a number; the zero vectors above are printed byte-reversed in the RFC).
        var iSCSIRead = [UInt8](repeating: 0, count: 48)
        for (i, b) in [0: 0x01, 1: 0xC0, 16: 0x14, 22: 0x04, 27: 0x14, 31: 0x18, 32: 0x28, 40: 0x02] { iSCSIRead[i] = UInt8(b) }
        XCTAssertEqual(CRC32C.checksum(iSCSIRead), 0xD996_3A56)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    struct FixedFixture: Decodable {
        struct Event: Decodable { var wall_time: Double; var step: Int64; var scalars: [[Scalar]] }
        enum Scalar: Decodable {
            case tag(String), value(Double)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .tag(s) } else { self = .value(try c.decode(Double.self)) }
            }
        }
        var file_version_wall_time: Double
        var events: [Event]
    }

    func testEncoderReproducesTheReferenceWriterByteForByte() throws {
        let fixture = try JSONDecoder().decode(FixedFixture.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("fixed.json")))
        var bytes = TFRecord.frame(TensorBoardEvent(wallTime: fixture.file_version_wall_time, step: 0, content: .fileVersion("brain.Event:2")).encoded())
        for e in fixture.events {
            let scalars = e.scalars.map { pair -> TensorBoardEvent.Scalar in
                guard case .tag(let t) = pair[0], case .value(let v) = pair[1] else { fatalError("fixture layout") }
                return .init(tag: t, value: Float(v))
            }
            bytes += TFRecord.frame(TensorBoardEvent(wallTime: e.wall_time, step: e.step, content: .scalars(scalars)).encoded())
        }
        let expected = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("fixed.tfevents")))
        XCTAssertEqual(bytes.count, expected.count)
        XCTAssertEqual(bytes, expected)
    }

    func testReaderParsesAFileWrittenBySummaryWriter() throws {
        let events = try TensorBoardLog.events(in: Self.fixtures.appendingPathComponent("summary-writer.tfevents"))
        XCTAssertEqual(events.first?.content, .fileVersion("brain.Event:2"))
        var triples: [String] = []
        for e in events { if case .scalars(let s) = e.content { triples += s.map { "\($0.tag) \(e.step) \($0.value)" } } }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("summary-writer.json"))) as! [[Any]]
        let expected = json.map { "\($0[0] as! String) \($0[1] as! Int) \(Float($0[2] as! Double))" }
        XCTAssertEqual(triples, expected)
    }

    func testReaderReportsADamagedFileByName() throws {
        let dir = try temporaryDirectory()
        let good = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("summary-writer.tfevents")))
        var flipped = good
        flipped[40] ^= 1
        for (name, bytes) in [("cut", Array(good.dropLast(3))), ("flipped", flipped)] {
            let url = dir.appendingPathComponent("events.out.tfevents.\(name)")
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try TensorBoardLog.events(in: url)) { error in
                XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            }
        }
    }

    /// Scalars by tag and step over every event file of a folder, as TensorBoard would show them.
    func readAll(_ dir: URL) throws -> [String: [Int64: [Float]]] {
        var result: [String: [Int64: [Float]]] = [:]
        for file in try TensorBoardLog.files(in: dir) {
            let events = try TensorBoardLog.events(in: file)
            XCTAssertEqual(events.first?.content, .fileVersion("brain.Event:2"), file.lastPathComponent)
            for e in events { if case .scalars(let s) = e.content { for v in s { result[v.tag, default: [:]][e.step, default: []].append(v.value) } } }
        }
        return result
    }

    func testResumeCutsTheLostRunsStepsAndANewRunStartsOver() throws {
        let dir = try temporaryDirectory()
        do {
            let log = try TensorBoardLog(directory: dir, truncateAfterStep: nil, wallTime: 1000)
            for step in 1...10 { try log.write(step: step, scalars: [.init(tag: "train/loss", value: Float(step))]) }
        }
        // A crash mid-write leaves half a record at the end.
        let first = try TensorBoardLog.files(in: dir)[0]
        let handle = try FileHandle(forWritingTo: first)
        try handle.seekToEnd(); try handle.write(contentsOf: Data([1, 2, 3])); try handle.close()
        do {
            let log = try TensorBoardLog(directory: dir, truncateAfterStep: 6, wallTime: 2000)
            for step in 7...8 { try log.write(step: step, scalars: [.init(tag: "train/loss", value: Float(100 + step))]) }
        }
        XCTAssertEqual(try TensorBoardLog.files(in: dir).count, 2)
        XCTAssertEqual(try readAll(dir)["train/loss"], [1: [1], 2: [2], 3: [3], 4: [4], 5: [5], 6: [6], 7: [107], 8: [108]])
        // A file of that name that is not an event file is left alone by a resume.
        let stranger = dir.appendingPathComponent("events.out.tfevents.0000000001.notes")
        try Data("not an event file".utf8).write(to: stranger)
        _ = try TensorBoardLog(directory: dir, truncateAfterStep: 6, wallTime: 2500)
        XCTAssertEqual(try Data(contentsOf: stranger), Data("not an event file".utf8))
        try FileManager.default.removeItem(at: stranger)
        XCTAssertEqual(try readAll(dir)["train/loss"]?.count, 6)   // and the resume at 6 cut steps 7 and 8
        // Resuming at a step before every logged one removes the files altogether.
        _ = try TensorBoardLog(directory: dir, truncateAfterStep: 0, wallTime: 3000)
        XCTAssertEqual(try TensorBoardLog.files(in: dir).count, 1)
        XCTAssertEqual(try readAll(dir), [:])
        _ = try TensorBoardLog(directory: dir, truncateAfterStep: nil, wallTime: 4000)
        XCTAssertEqual(try TensorBoardLog.files(in: dir).map { String($0.lastPathComponent.prefix(30)) }, ["events.out.tfevents.0000004000"])
    }

    func testEvaluationsGoUnderValNamedByTheirImageCount() throws {
        let log = MetricsLog()
        let dir = try temporaryDirectory()
        log.tensorBoard = try TensorBoardLog(directory: dir, truncateAfterStep: nil)
        try log.append(EvalRecord(step: 4, zeroshotTop1: 0.5, zeroshotTop5: 0.75, images: 2000))
        try log.append(EvalRecord(step: 8, zeroshotTop1: 0.625, zeroshotTop5: 0.875, images: 10000))
        XCTAssertEqual(try readAll(dir), ["val/zeroshot-n2000-top1": [4: [0.5]], "val/zeroshot-n2000-top5": [4: [0.75]],
                                          "val/zeroshot-n10000-top1": [8: [0.625]], "val/zeroshot-n10000-top5": [8: [0.875]]])
    }

    func testTrainingWritesMetricsAsOpenCLIPTagsAndResumeDoesNotRepeatSteps() throws {
        let run = try SyntheticRun(items: 32)
        defer { run.cleanup() }
        let folder = run.root.appendingPathComponent("runs/test")
        func train(_ yaml: String, overrides: [String] = [], resume: String? = nil, overwrite: Bool = false) throws -> [StepRecord] {
            let trainer = try Trainer(config: try run.config(yaml, overrides: overrides), resume: resume, overwrite: overwrite, log: { _ in })
            _ = try trainer.run()
            return trainer.metrics.steps
        }
        _ = try train(run.yaml(steps: 8, every: 4))
        let straight = try readAll(folder)
        // The same run again, then resumed from step 4: steps 5–8 of the first attempt are gone.
        _ = try train(run.yaml(steps: 8, every: 4), overwrite: true)
        let steps = try train(run.yaml(steps: 8, every: 4), resume: folder.appendingPathComponent("checkpoints/step-00000004").path)
        let resumed = try readAll(folder)
        XCTAssertEqual(try TensorBoardLog.files(in: folder).count, 2)
        XCTAssertEqual(steps.map(\.step), [2, 4, 6, 8])
        XCTAssertEqual(Set(resumed.keys), ["train/loss", "train/lr", "train/scale", "train/samples_per_second", "train/data_time", "train/batch_time"])
        for (tag, value) in [("train/loss", { (r: StepRecord) in r.loss! }), ("train/lr", { $0.lr }), ("train/scale", { $0.logitMultiplier }),
                             ("train/samples_per_second", { $0.samplesPerSecond! }), ("train/data_time", { $0.dataTime! }),
                             ("train/batch_time", { $0.batchTime! })] {
            XCTAssertEqual(resumed[tag], Dictionary(uniqueKeysWithValues: steps.map { (Int64($0.step), [Float(value($0))]) }), tag)
        }
        XCTAssertEqual(resumed["train/loss"], straight["train/loss"], "exact resume: the same losses at the same steps")
        for r in steps { XCTAssertGreaterThanOrEqual(r.batchTime!, r.dataTime!); XCTAssertGreaterThan(r.samplesPerSecond!, 0) }

        _ = try train(run.yaml(steps: 2, every: 4), overrides: ["run.tensorboard=false"], overwrite: true)
        XCTAssertEqual(try TensorBoardLog.files(in: folder), [], "run.tensorboard: false writes no event file, and the overwritten run's are gone")
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftclip-tb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}

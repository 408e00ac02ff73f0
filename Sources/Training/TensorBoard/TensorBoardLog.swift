import ModelStore
import Evaluation
import Foundation

/// The run's TensorBoard event files (`run.tensorboard`, on by default): one file per training
/// session in the run folder, named as TensorBoard's own writer names them
/// (`events.out.tfevents.<seconds>.<host>.<pid>.<n>`), holding `brain.Event:2` and then one event
/// per logged step or evaluation, with OpenCLIP's tags (`TensorBoardTags`) and step = optimizer steps done.
///
/// A resume rewrites the earlier files to the checkpoint's step (as `metrics.jsonl` is cut), so
/// steps the lost run logged after its last checkpoint are not shown twice; a new run removes them.
public final class TensorBoardLog {
    /// What every event file starts with.
    public static let fileVersion = "brain.Event:2"
    /// This session's file.
    public let url: URL
    private let handle: FileHandle

    /// Opens a new event file in `directory` after cutting the existing ones to `truncateAfterStep`
    /// (resume) or removing them (nil: a new run).
    public init(directory: URL, truncateAfterStep: Int?, wallTime: Double = Date().timeIntervalSince1970) throws {
        try Self.cutFiles(in: directory, afterStep: truncateAfterStep)
        let host = ProcessInfo.processInfo.hostName.isEmpty ? "localhost" : ProcessInfo.processInfo.hostName
        let stem = String(format: "events.out.tfevents.%010d.", Int(wallTime)) + host + ".\(ProcessInfo.processInfo.processIdentifier)."
        var n = 0
        while FileManager.default.fileExists(atPath: directory.appendingPathComponent(stem + "\(n)").path) { n += 1 }
        url = directory.appendingPathComponent(stem + "\(n)")
        let first = TFRecord.frame(TensorBoardEvent(wallTime: wallTime, step: 0, content: .fileVersion(Self.fileVersion)).encoded())
        do { try Data(first).write(to: url, options: .withoutOverwriting) } catch {
            throw RunError("\(url.path): cannot create the TensorBoard event file (\(error.localizedDescription))")
        }
        handle = try FileHandle(forWritingTo: url)
        _ = try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Appends one event of scalars at `step`.
    public func write(step: Int, scalars: [TensorBoardEvent.Scalar], wallTime: Double = Date().timeIntervalSince1970) throws {
        guard !scalars.isEmpty else { return }
        let record = TFRecord.frame(TensorBoardEvent(wallTime: wallTime, step: Int64(step), content: .scalars(scalars)).encoded())
        do { try handle.write(contentsOf: record) } catch {
            throw RunError("\(url.path): cannot append to the TensorBoard event file (\(error.localizedDescription))")
        }
    }

    /// Appends a logged step's `train/…` scalars.
    public func append(_ record: StepRecord) throws { try write(step: record.step, scalars: TensorBoardTags.scalars(record)) }
    /// Appends an evaluation's `val/…` scalars.
    public func append(_ record: EvalRecord) throws { try write(step: record.step, scalars: TensorBoardTags.scalars(record)) }

    /// Appends a retrieval evaluation's `val/…` scalars.
    public func append(_ record: RetrievalRecord) throws { try write(step: record.step, scalars: TensorBoardTags.scalars(record)) }

    /// The event files in `directory`, by name (TensorBoard reads them in this order).
    public static func files(in directory: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("events.out.tfevents.") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// The events of a file; throws naming the file when a record is damaged or not an event.
    public static func events(in url: URL) throws -> [TensorBoardEvent] {
        let (records, _, damage) = TFRecord.records(in: try readBytes(url))
        if let damage { throw RunError("\(url.path): not a readable TensorBoard event file: \(damage)") }
        return try records.enumerated().map { i, r in
            guard let e = TensorBoardEvent(decoding: r) else { throw RunError("\(url.path): record \(i) is not a TensorBoard event") }
            return e
        }
    }

    /// Cuts the event files in `directory` to `step` (a resume), or removes them (nil: a new run).
    /// A run with `run.tensorboard: false` does this too, so no file shows steps of a lost or overwritten run.
    public static func cutFiles(in directory: URL, afterStep step: Int?) throws {
        for file in try files(in: directory) {
            if let step { try truncate(file, afterStep: step) } else { try remove(file) }
        }
    }

    /// Rewrites `url` without the events after `step` (a damaged tail, from a crash mid-write, is
    /// dropped too); removes the file when nothing but the file version remains. A file that does
    /// not start with an event file's version record is not an event file this reader knows, and is
    /// left as it is.
    static func truncate(_ url: URL, afterStep step: Int) throws {
        let bytes = try readBytes(url)
        let (records, _, damage) = TFRecord.records(in: bytes)
        guard let first = records.first.flatMap(TensorBoardEvent.init(decoding:)), case .fileVersion = first.content else { return }
        let kept = records.filter { r in
            guard let e = TensorBoardEvent(decoding: r) else { return false }
            if case .fileVersion = e.content { return true }
            return e.step <= Int64(step)
        }
        guard kept.count > 1 else { return try remove(url) }
        guard kept.count < records.count || damage != nil else { return }
        do { try Data(kept.flatMap { TFRecord.frame($0) }).write(to: url, options: .atomic) } catch {
            throw RunError("\(url.path): cannot cut the TensorBoard event file to step \(step) (\(error.localizedDescription))")
        }
    }

    private static func remove(_ url: URL) throws {
        do { try FileManager.default.removeItem(at: url) } catch {
            throw RunError("\(url.path): cannot remove the previous run's TensorBoard event file (\(error.localizedDescription))")
        }
    }

    private static func readBytes(_ url: URL) throws -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw RunError("\(url.path): cannot read the TensorBoard event file (\(error.localizedDescription))")
        }
    }
}

/// OpenCLIP's TensorBoard tags (open_clip_train/train.py) for SwiftCLIP's records.
public enum TensorBoardTags {
    /// `train/loss`, `train/lr`, `train/scale` (the logit multiplier), `train/samples_per_second`,
    /// `train/data_time`, `train/batch_time` — the logged step's, as OpenCLIP logs its last batch's.
    /// A step whose loss was not finite has no `train/loss`.
    public static func scalars(_ r: StepRecord) -> [TensorBoardEvent.Scalar] {
        var s: [TensorBoardEvent.Scalar] = []
        if let loss = r.loss { s.append(.init(tag: "train/loss", value: Float(loss))) }
        s.append(.init(tag: "train/lr", value: Float(r.lr)))
        s.append(.init(tag: "train/scale", value: Float(r.logitMultiplier)))
        if let v = r.samplesPerSecond { s.append(.init(tag: "train/samples_per_second", value: Float(v))) }
        if let v = r.dataTime { s.append(.init(tag: "train/data_time", value: Float(v))) }
        if let v = r.batchTime { s.append(.init(tag: "train/batch_time", value: Float(v))) }
        return s
    }

    /// `val/zeroshot-n<images>-top1` and `-top5`, as fractions: OpenCLIP's
    /// `val/imagenet-zeroshot-val-top1`, named by the number of images evaluated, since a run
    /// evaluates a subset periodically (`eval.zeroshot.limit`) and the whole dataset at the end,
    /// and those are different series.
    public static func scalars(_ r: EvalRecord) -> [TensorBoardEvent.Scalar] {
        [.init(tag: "val/zeroshot-n\(r.images)-top1", value: Float(r.zeroshotTop1)),
         .init(tag: "val/zeroshot-n\(r.images)-top5", value: Float(r.zeroshotTop5))]
    }

    /// OpenCLIP's retrieval names (`get_clip_metrics` in open_clip_train/train.py) under `val/`:
    /// `image_to_text_R@1`, `_R@5`, `_R@10`, `_mean_rank`, `_median_rank`, and the same for
    /// `text_to_image`; recalls as fractions, ranks 1-based. An evaluation of the whole dataset
    /// uses exactly those tags (`val/image_to_text_R@1`); one of the first `eval.retrieval.limit`
    /// items of a larger dataset is a different series, named by its image count
    /// (`val/n2000-image_to_text_R@1`), so the two never share a line.
    public static func scalars(_ r: RetrievalRecord) -> [TensorBoardEvent.Scalar] {
        let prefix = r.subset ? "val/n\(r.images)-" : "val/"
        return [("image_to_text", r.imageToText), ("text_to_image", r.textToImage)].flatMap { name, s in
            [("R@1", s.recallAt1), ("R@5", s.recallAt5), ("R@10", s.recallAt10), ("mean_rank", s.meanRank), ("median_rank", s.medianRank)]
                .map { TensorBoardEvent.Scalar(tag: "\(prefix)\(name)_\($0.0)", value: Float($0.1)) }
        }
    }
}

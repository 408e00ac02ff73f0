import Foundation
import TensorCore

/// Errors that stop a loader (bad items are skipped, not errors).
public enum DataLoaderError: Error, CustomStringConvertible, Sendable {
    case tokenizer(String)
    case noUsableBatch(String)
    case invalidState(String)

    public var description: String {
        switch self {
        case let .tokenizer(m), let .noUsableBatch(m), let .invalidState(m): return m
        }
    }
}

/// Settings of a `DataLoader`.
public struct DataLoaderConfiguration: Sendable {
    public enum Mode: String, Sendable, Codable {
        /// Endless epochs, shuffled (when `shuffle`), augmented, incomplete last batch of an epoch dropped.
        case train
        /// One pass in dataset order, the evaluation transform, the last partial batch kept.
        case eval
    }

    /// The global batch size; a loader with a `share` returns its rows of each global batch.
    public var batchSize: Int
    /// For one rank of a data-parallel job: the rows of each global batch it reads (nil: all).
    /// Training mode only; `batchSize` must be divisible by ranks × groups.
    public var share: RankShare?
    /// H = W of the model input.
    public var imageSize: Int
    /// Length of every token row the tokenizer returns.
    public var contextLength: Int
    /// Length of the long-caption token rows (with a long-caption tokenizer).
    public var longContextLength: Int
    public var augmentation: Augmentation
    public var mode: Mode
    public var shuffle: Bool
    public var seed: UInt64
    /// Worker threads that read, decode, augment and tokenize.
    public var threads: Int
    /// How many batches' worth of samples the workers may prepare ahead of `next()`.
    public var prefetchBatches: Int
    /// Whether items need captions. False (zero-shot classification, image embedding) reads neither
    /// `/captions` nor `/long_captions` and never calls the tokenizer: every item gets caption "" and an
    /// all-zero token row, and items with an empty caption or in a shard without `/captions` are kept.
    public var needsCaptions: Bool

    public init(batchSize: Int, imageSize: Int, contextLength: Int = 77, longContextLength: Int = 248,
                augmentation: Augmentation = Augmentation(), mode: Mode = .train, shuffle: Bool = true,
                seed: UInt64 = 0, threads: Int = 2, prefetchBatches: Int = 2, needsCaptions: Bool = true,
                share: RankShare? = nil) {
        ensure(batchSize > 0 && imageSize > 0 && contextLength > 0, "batch size, image size and context length must be positive")
        ensure(threads > 0 && prefetchBatches > 0, "threads and prefetchBatches must be positive")
        self.batchSize = batchSize
        self.imageSize = imageSize
        self.contextLength = contextLength
        self.longContextLength = longContextLength
        self.augmentation = augmentation
        self.mode = mode
        self.shuffle = shuffle
        self.seed = seed
        self.threads = threads
        self.prefetchBatches = prefetchBatches
        self.needsCaptions = needsCaptions
        self.share = share
    }
}

/// Deterministic, multithreaded batches from a `DatasetSource` (such as a `ShardDataset`).
///
/// Order: epoch e visits the dataset in a permutation seeded by (seed, e); sample at position p of epoch e
/// draws its augmentation from a generator seeded by (seed, e, p); an item i with several captions is read
/// with caption `captionNumber(seed, e, i)` when training (uniform, one per epoch) and with its first caption
/// when evaluating. Worker threads process positions ahead of
/// the consumer (at most `prefetchBatches × batchSize`), results are put back in position order, and
/// `next()` assembles batches from consecutive positions — so batches are identical whatever the thread
/// count or timing. A bad item (corrupt JPEG, empty caption unless `needsCaptions` is false, missing dataset)
/// is skipped: the batch takes the next position instead, the same way on every run; skips are counted and
/// each item is logged once.
///
/// `state` is the position of the next sample to consider; a loader made with `resumeFrom: state`
/// (and the same `dealtFrom`) continues with exactly the batches this one would have produced.
///
/// With a `RankShare`, the loader reads only that rank's rows of each global batch (positions are
/// those of the global order, so every rank count sees the same global batches when no item is
/// skipped; a skipped item is replaced by the rank's next own position).
///
/// Made with `dealtFrom:` (a resume on another rank count: `ConsumedPositions.reconcile` of the old
/// ranks' states), the loader first reads only the positions not consumed, dealt out as global
/// batches of consecutive remaining positions, then whole epochs as usual (`PositionStream`).
public final class DataLoader {
    public let dataset: any DatasetSource
    public let configuration: DataLoaderConfiguration
    /// The consumed positions this loader's stream was dealt from (nil: it reads from the beginning).
    public let dealtFrom: ConsumedPositions?

    /// The position of the next sample to consider (save it in checkpoints).
    public var state: LoaderState {
        let position = stream.position(cursor)
        return LoaderState(epoch: position / count, position: position % count)
    }
    /// Seconds `next()` has spent waiting for data, in total and in the last call.
    public private(set) var totalWaitSeconds: Double = 0
    public private(set) var lastWaitSeconds: Double = 0
    /// Each skipped item once, in the order first met (an item skipped again in a later epoch is not
    /// added again).
    public private(set) var skippedItems: [SkippedItem] = []
    /// Distinct items skipped so far (`skippedItems.count`).
    public var skippedCount: Int { skippedItems.count }
    /// Samples dropped because they did not fill the last batch of a training epoch.
    public private(set) var droppedCount = 0

    private let count: Int
    private let stream: PositionStream      // the positions this loader visits
    private var cursor: Int                 // stream index of the next sample (its absolute position: stream.position)
    private let end: Int                    // cursor bound (N for eval, unbounded for training)
    private let pipeline: Pipeline
    private let log: @Sendable (String) -> Void
    private var seenSkips: Set<SkippedItem> = []
    private var pending: [SampleResult] = []    // collected results for positions cursor ..< cursor + remaining
    private var pendingIndex = 0
    private var epochHadBatch = false
    private var epochStartedAtZero: Bool

    /// - Parameters:
    ///   - tokenizer: maps a caption to exactly `contextLength` token ids (padded); called on worker threads.
    ///   - longTokenizer: the same for `/long_captions` (`longContextLength` ids); when given, `Batch.longTokens`
    ///     is filled and items without a long caption are skipped. Needs `configuration.needsCaptions`.
    ///   - resumeFrom: a `state` saved earlier (by a loader with the same `dealtFrom`); nil starts at
    ///     epoch 0, position 0, or at the first position `dealtFrom` leaves.
    ///   - dealtFrom: read only the positions this leaves unconsumed (training only; see the type's notes).
    ///   - log: receives one line per newly skipped item (default: standard error).
    public init(dataset: any DatasetSource, configuration: DataLoaderConfiguration,
                tokenizer: @escaping @Sendable (String) -> [Int32],
                longTokenizer: (@Sendable (String) -> [Int32])? = nil,
                resumeFrom: LoaderState? = nil, dealtFrom: ConsumedPositions? = nil,
                log: @escaping @Sendable (String) -> Void = DataLoader.standardErrorLog) throws {
        self.dataset = dataset
        self.configuration = configuration
        self.log = log
        self.dealtFrom = dealtFrom
        count = dataset.count
        guard count > 0 else { throw DataLoaderError.noUsableBatch("the dataset has no items") }
        guard configuration.needsCaptions || longTokenizer == nil else {
            throw DataLoaderError.invalidState("a long-caption tokenizer was given to a loader that does not read captions (needsCaptions is false)")
        }
        let start = resumeFrom ?? LoaderState()
        guard start.epoch >= 0, (0...count).contains(start.position) else {
            throw DataLoaderError.invalidState("cannot resume at epoch \(start.epoch), position \(start.position) of a \(count)-item dataset")
        }
        let training = configuration.mode == .train
        guard dealtFrom == nil || training else {
            throw DataLoaderError.invalidState("an evaluation loader reads its dataset once in order; it cannot be dealt from consumed positions")
        }
        if !training && start.epoch != 0 && !(start.epoch == 1 && start.position == 0) {
            throw DataLoaderError.invalidState("an evaluation loader only has epoch 0, cannot resume at epoch \(start.epoch)")
        }
        if let share = configuration.share {
            guard training, configuration.batchSize % (share.ranks * share.groups) == 0 else {
                throw DataLoaderError.invalidState("a rank's share needs a training loader whose batch size \(configuration.batchSize) is divisible by ranks × groups = \(share.ranks * share.groups)")
            }
            guard count >= configuration.batchSize else {
                throw DataLoaderError.noUsableBatch("the dataset has \(count) items, fewer than one global batch of \(configuration.batchSize)")
            }
        }
        stream = PositionStream(count: count, batchSize: configuration.batchSize, share: configuration.share, origin: dealtFrom)
        // The beginning (epoch 0, position 0, or what `dealtFrom` leaves) is every stream's index 0, whatever rows it reads.
        let fromBeginning = resumeFrom == nil || (dealtFrom == nil && start == LoaderState())
        guard let startIndex = fromBeginning ? 0 : stream.index(of: start.epoch * count + start.position) else {
            throw DataLoaderError.invalidState("cannot resume at epoch \(start.epoch), position \(start.position): rank \(configuration.share?.rank ?? 0) of \(configuration.share?.ranks ?? 1) does not read that position (a checkpoint of another rank count?)")
        }
        cursor = startIndex
        end = training ? Int.max : count
        // Resuming exactly at an epoch boundary has not traversed the previous epoch.
        epochStartedAtZero = dealtFrom == nil && start.position == 0 && cursor == 0
        let order = SampleOrder(count: count, seed: configuration.seed, shuffle: training && configuration.shuffle)
        let processor = SampleProcessor(
            dataset: dataset, imageSize: configuration.imageSize, augmentation: configuration.augmentation,
            training: training, contextLength: configuration.contextLength, tokenizer: tokenizer,
            longTokenizer: longTokenizer, longContextLength: configuration.longContextLength,
            needsCaptions: configuration.needsCaptions,
            readsLongCaptions: configuration.needsCaptions && dataset.hasLongCaptions, seed: configuration.seed)
        pipeline = Pipeline(order: order, stream: stream, processor: processor, start: cursor, end: end,
                            window: max(configuration.prefetchBatches * configuration.batchSize, configuration.threads),
                            threads: configuration.threads)
        pipeline.startWorkers(configuration.threads)
    }

    deinit { pipeline.stop() }

    @Sendable public static func standardErrorLog(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The next batch, or nil when an evaluation pass is over (training never ends).
    /// Throws when the tokenizer misbehaves or a training epoch cannot fill a single batch.
    public func next() throws -> Batch? {
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            lastWaitSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            totalWaitSeconds += lastWaitSeconds
        }
        let batchSize = configuration.share?.localBatchSize(configuration.batchSize) ?? configuration.batchSize
        var samples: [ProcessedSample] = []
        samples.reserveCapacity(batchSize)
        while samples.count < batchSize {
            guard cursor < end else { break }
            if configuration.mode == .train && stream.startsEpoch(cursor) {
                // A new epoch: drop the incomplete batch of the last one.
                if epochStartedAtZero && !epochHadBatch {
                    throw DataLoaderError.noUsableBatch(
                        "epoch \(stream.position(cursor) / count - 1) has fewer than \(batchSize) usable items (\(skippedItems.count) skipped)")
                }
                droppedCount += samples.count
                samples.removeAll(keepingCapacity: true)
                epochHadBatch = false
                epochStartedAtZero = true
            }
            if pendingIndex == pending.count {
                pending = pipeline.collect(from: cursor)
                pendingIndex = 0
            }
            let result = pending[pendingIndex]
            pendingIndex += 1
            cursor += 1
            switch result {
            case let .sample(sample):
                samples.append(sample)
            case let .skipped(item):
                if seenSkips.insert(item).inserted {
                    skippedItems.append(item)
                    log("data: skipped \(item)")
                }
            case let .failed(error):
                throw error
            }
        }
        guard !samples.isEmpty else { return nil }
        epochHadBatch = true
        return assemble(samples)
    }

    private func assemble(_ samples: [ProcessedSample]) -> Batch {
        let c = configuration
        var images: [Float] = []
        images.reserveCapacity(samples.count * c.imageSize * c.imageSize * 3)
        var tokens: [Int32] = []
        tokens.reserveCapacity(samples.count * c.contextLength)
        var longTokens: [Int32]? = samples[0].longTokens == nil ? nil : []
        for sample in samples {
            images.append(contentsOf: sample.image)
            tokens.append(contentsOf: sample.tokens)
            if let ids = sample.longTokens { longTokens?.append(contentsOf: ids) }
        }
        return Batch(size: samples.count, imageSize: c.imageSize, images: images, contextLength: c.contextLength,
                     tokens: tokens, longTokens: longTokens,
                     labels: dataset.hasLabels ? samples.map { $0.label ?? -1 } : nil,
                     captions: samples.map(\.caption),
                     longCaptions: samples[0].longCaption == nil ? nil : samples.map { $0.longCaption ?? "" },
                     indices: samples.map(\.globalIndex), epoch: samples[0].epoch)
    }
}

// MARK: - Worker threads and the reorder buffer

/// The workers' shared state: positions (stream indices, see `PositionStream`) are claimed in order, a few at a time, and their results kept
/// until the consumer collects them in order. Workers stay at most `window` positions ahead of it.
private final class Pipeline: @unchecked Sendable {
    private let order: SampleOrder
    private let stream: PositionStream
    /// Dropped by `stop()`: the workers' threads may outlive the loader for a moment, and must not keep
    /// the dataset (and its open HDF5 files) alive with them.
    private var processor: SampleProcessor?
    private let end: Int
    private let window: Int
    private let chunk: Int
    private let condition = NSCondition()
    private var nextToClaim: Int
    private var consumed: Int                       // every position below this has been collected
    private var results: [Int: SampleResult] = [:]
    private var stopped = false
    private var running = 0
    private let permutations = NSLock()
    private var cachedPermutations: [Int: [Int32]] = [:]

    init(order: SampleOrder, stream: PositionStream, processor: SampleProcessor, start: Int, end: Int, window: Int, threads: Int) {
        self.order = order
        self.stream = stream
        self.processor = processor
        self.end = end
        self.window = window
        // Claiming and publishing several positions per lock round trip keeps small images cheap.
        chunk = max(1, min(32, window / (2 * threads)))
        nextToClaim = start
        consumed = start
    }

    func startWorkers(_ threads: Int) {
        condition.lock()
        running = threads
        condition.unlock()
        for n in 0..<threads {
            let thread = Thread { [self] in work() }
            thread.name = "DataLoader.worker.\(n)"
            thread.start()
        }
    }

    /// Stops the workers, waits until they have exited and releases the dataset.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        processor = nil
        condition.unlock()
    }

    /// The epoch and global item index at absolute position `position` (epoch · N + p).
    private func item(at position: Int) -> (epoch: Int, index: Int) {
        let epoch = position / order.count, p = position % order.count
        permutations.lock()
        defer { permutations.unlock() }
        if cachedPermutations[epoch] == nil {
            cachedPermutations = cachedPermutations.filter { $0.key >= epoch - 1 }
            cachedPermutations[epoch] = order.permutation(epoch: epoch)
        }
        return (epoch, Int(cachedPermutations[epoch]![p]))
    }

    private func work() {
        condition.lock()
        while true {
            while !stopped && (nextToClaim >= end || nextToClaim >= consumed + window) { condition.wait() }
            if stopped { break }
            let first = nextToClaim
            let last = min(end, consumed + window, first + chunk)
            nextToClaim = last
            let processor = self.processor!    // only `stop()` clears it, after every worker has left
            condition.unlock()
            var produced: [(Int, SampleResult)] = []
            produced.reserveCapacity(last - first)
            for streamIndex in first..<last {
                let position = stream.position(streamIndex)
                let (epoch, index) = item(at: position)
                let rng = order.sampleGenerator(epoch: epoch, position: position % order.count)
                produced.append((streamIndex, processor.process(globalIndex: index, epoch: epoch, rng: rng)))
            }
            condition.lock()
            for (streamIndex, result) in produced { results[streamIndex] = result }
            condition.broadcast()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the result at `position` (the first not yet collected), then removes and returns it with
    /// every consecutive result already available after it.
    func collect(from position: Int) -> [SampleResult] {
        condition.lock()
        defer { condition.unlock() }
        ensure(position == consumed, "positions must be collected in order")
        while results[position] == nil { condition.wait() }
        var collected: [SampleResult] = []
        var p = position
        while let result = results.removeValue(forKey: p) {
            collected.append(result)
            p += 1
        }
        consumed = p
        condition.broadcast()
        return collected
    }
}

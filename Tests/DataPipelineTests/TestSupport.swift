import DataPipeline
import Foundation
import TensorCore
import XCTest

/// A fresh temporary folder, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftclip-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

/// A smooth, seeded test image: gradients plus a little noise (compresses like a photo).
func syntheticImage(height: Int, width: Int, seed: UInt64) -> RGBImage {
    var rng = RandomGenerator(seed: seed)
    let phase = Float(rng.nextUniform()) * 6
    var pixels = [UInt8](repeating: 0, count: height * width * 3)
    for y in 0..<height {
        for x in 0..<width {
            let fx = Float(x) / Float(width), fy = Float(y) / Float(height)
            let r = 127 + 100 * sin(6 * fx + phase)
            let g = 127 + 100 * cos(5 * fy - phase)
            let b = 127 + 60 * sin(4 * (fx + fy)) + 20 * rng.nextUniform()
            let o = (y * width + x) * 3
            pixels[o] = UInt8(max(0, min(255, r)))
            pixels[o + 1] = UInt8(max(0, min(255, g)))
            pixels[o + 2] = UInt8(max(0, min(255, b)))
        }
    }
    return RGBImage(height: height, width: width, pixels: pixels)
}

/// A stand-in tokenizer: one id per word (a stable hash), padded with 0 to `contextLength`.
func wordTokenizer(contextLength: Int) -> @Sendable (String) -> [Int32] {
    { text in
        var ids: [Int32] = [49406]
        for word in text.split(separator: " ") {
            var h: UInt32 = 2166136261
            for byte in word.utf8 { h = (h ^ UInt32(byte)) &* 16777619 }
            ids.append(Int32(h % 49000))
        }
        ids.append(49407)
        ids = Array(ids.prefix(contextLength))
        return ids + [Int32](repeating: 0, count: contextLength - ids.count)
    }
}

/// Collects log lines from the loader.
final class LogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return storage }
    var sink: @Sendable (String) -> Void { { [self] line in lock.lock(); storage.append(line); lock.unlock() } }
}

/// Writes a raw shard of `count` synthetic images with captions "item N of shard S" and labels N % 3.
@discardableResult
func writeRawShard(_ path: String, count: Int, size: Int = 16, seed: UInt64 = 0, classnames: [String]? = ["a", "b", "c"],
                   longCaptions: Bool = false) throws -> [ShardItem] {
    let writer = ShardWriter(path: path, classnames: classnames)
    var items: [ShardItem] = []
    for i in 0..<count {
        let item = ShardItem(image: .raw(syntheticImage(height: size, width: size, seed: seed &* 1000 &+ UInt64(i))),
                             caption: "item \(i) of shard \(seed)",
                             longCaption: longCaptions ? "a long caption. item \(i) of shard \(seed). more words." : nil,
                             label: i % 3)
        try writer.append(item)
        items.append(item)
    }
    try writer.finish()
    return items
}

/// Writes a JPEG shard of `count` synthetic images of varying sizes.
@discardableResult
func writeJPEGShard(_ path: String, count: Int, seed: UInt64 = 0, corrupt: Set<Int> = []) throws -> [ShardItem] {
    let writer = ShardWriter(path: path)
    var items: [ShardItem] = []
    for i in 0..<count {
        let image = syntheticImage(height: 20 + (i % 3) * 4, width: 24 + (i % 2) * 6, seed: seed &* 1000 &+ UInt64(i))
        var bytes = try JPEG.encode(image, quality: 90)
        if corrupt.contains(i) { bytes = Array(bytes.prefix(bytes.count / 2)) }
        let item = ShardItem(image: .jpeg(bytes), caption: "jpeg \(i) of shard \(seed)")
        try writer.append(item)
        items.append(item)
    }
    try writer.finish()
    return items
}

/// The bundled fixture folder.
func fixturePath(_ name: String) -> String {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
}

/// Asserts two Float arrays have the same length and agree within `accuracy`, reporting only the worst element.
func assertClose(_ a: [Float], _ b: [Float], accuracy: Float, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    guard a.count == b.count else {
        return XCTFail("lengths differ: \(a.count) vs \(b.count) \(message)", file: file, line: line)
    }
    var worst: (Int, Float) = (0, 0)
    for i in 0..<a.count where abs(a[i] - b[i]) > worst.1 { worst = (i, abs(a[i] - b[i])) }
    XCTAssertLessThanOrEqual(worst.1, accuracy, "element \(worst.0): \(a.isEmpty ? 0 : a[worst.0]) vs \(b.isEmpty ? 0 : b[worst.0]) \(message)",
                             file: file, line: line)
}

/// Runs `body` with standard error (file descriptor 2) redirected to a file and returns what was written
/// to it meanwhile, from any thread (HDF5 and libjpeg print from C, bypassing Swift).
func capturingStandardError(_ body: () throws -> Void) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)").path
    let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard file >= 0 else { throw XCTSkip("cannot create \(path)") }
    defer { unlink(path) }
    fflush(nil)
    let saved = dup(2)
    dup2(file, 2)
    close(file)
    defer {
        fflush(nil)
        dup2(saved, 2)
        close(saved)
    }
    try body()
    fflush(nil)
    return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

private final class ResultBox<T>: @unchecked Sendable { var result: Result<T, Error>? }

/// Runs `body` on a new thread and waits for it (a fresh thread has fresh thread-local library state).
func onNewThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.result = Result { try body() }
        done.signal()
    }
    thread.start()
    done.wait()
    return try box.result!.get()
}

/// Runs `body` on a new thread whose file-system identity is the unprivileged user `nobody`, so that
/// permission bits are enforced even when the tests run as root (who otherwise bypasses them):
/// Linux's `setfsuid` is per thread and drops the file capabilities with the identity.
/// Throws `XCTSkip` where that is not possible (not root and not Linux: then chmod applies anyway).
func asUnprivilegedUser<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    guard geteuid() == 0 else { return try body() }
    typealias SetFSUID = @convention(c) (UInt32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setfsuid") else {
        throw XCTSkip("running as root without setfsuid: root bypasses the permission bits this test needs")
    }
    let setfsuid = unsafeBitCast(symbol, to: SetFSUID.self)
    return try onNewThread {
        _ = setfsuid(65534)
        defer { _ = setfsuid(0) }
        return try body()
    }
}

/// Three raw shards (23 items, two image sizes: 10 and 5 of 16 px, 8 of 20 px) in one folder.
func threeRawShards(_ test: XCTestCase) throws -> ShardDataset {
    let dir = try temporaryDirectory(test)
    try writeRawShard(dir + "/shard-00000.h5", count: 10, size: 16, seed: 0)
    try writeRawShard(dir + "/shard-00001.h5", count: 8, size: 20, seed: 1)
    try writeRawShard(dir + "/shard-00002.h5", count: 5, size: 16, seed: 2)
    return try ShardDataset(path: dir)
}

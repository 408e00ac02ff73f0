import Foundation
import XCTest
@testable import Checkpointing

/// The committed fixtures, found next to this file (the test target declares no resources).
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A test case with a fresh temporary directory, removed afterwards.
class TemporaryDirectoryTestCase: XCTestCase {
    var temporaryDirectory: URL!

    override func setUpWithError() throws {
        temporaryDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("CheckpointingTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        // Restore write permission in case a test made something read-only.
        if let items = FileManager.default.enumerator(atPath: temporaryDirectory.path) {
            for case let item as String in items {
                chmod(temporaryDirectory.appendingPathComponent(item).path, 0o755)
            }
        }
        chmod(temporaryDirectory.path, 0o755)
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    func url(_ name: String) -> URL { temporaryDirectory.appendingPathComponent(name) }

    /// Names in the temporary directory (or a sub-folder), sorted.
    func listing(_ subfolder: String = "") throws -> [String] {
        let directory = subfolder.isEmpty ? temporaryDirectory! : url(subfolder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }
}

/// A safetensors file assembled by hand: `header` JSON padded with spaces to 8-byte alignment,
/// then `data`. `headerLength` overrides the length field (to make it lie).
func rawSafeTensors(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    var headerBytes = Array(header.utf8)
    headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
    var length = (headerLength ?? UInt64(headerBytes.count)).littleEndian
    var file = Data(bytes: &length, count: 8)
    file.append(contentsOf: headerBytes)
    file.append(contentsOf: data)
    return file
}

/// Asserts `body` throws a `CheckpointingError` whose one-line description contains `path`
/// and every string in `fragments`; returns the error.
@discardableResult
func assertCheckpointingError<T>(_ body: @autoclosure () throws -> T, path: String, _ fragments: String...,
                                 file: StaticString = #filePath, line: UInt = #line) -> CheckpointingError? {
    do {
        _ = try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
        return nil
    } catch let error as CheckpointingError {
        let text = error.description
        XCTAssertFalse(text.contains("\n") || text.contains("\r"), "not one line: \(text)", file: file, line: line)
        XCTAssertTrue(text.contains(path), "\(text) does not name \(path)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(text.contains(fragment), "\(text) does not contain '\(fragment)'", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("unexpected error type: \(error)", file: file, line: line)
        return nil
    }
}

extension Float {
    var bits: String { String(bitPattern, radix: 16) }
}

import Foundation
import XCTest

/// Package.swift compiles only the numeric kernel targets with `-Ounchecked`, which removes
/// `precondition` and bounds checks: the targets that parse user input (configs, checkpoints, CSV,
/// shards, tokenizer files) keep them, and the kernel targets use checks that survive (`ensure`).
final class BuildFlagsTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The library targets declared with `swiftSettings: hot` in Package.swift.
    private func uncheckedTargets() throws -> Set<String> {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var targets: Set<String> = []
        for declaration in manifest.components(separatedBy: ".target(name: \"").dropFirst() {
            let name = String(declaration.prefix { $0 != "\"" })
            let body = declaration.components(separatedBy: ".target(").first!
            if body.contains("swiftSettings: hot") || body.contains("swiftSettings: unchecked") { targets.insert(name) }
        }
        XCTAssertFalse(targets.isEmpty, "no target found with the -Ounchecked settings")
        return targets
    }

    func testInputParsingTargetsAreBuiltWithChecks() throws {
        let unchecked = try uncheckedTargets()
        for target in ["DataPipeline", "Tokenization", "Checkpointing", "Training"] {
            XCTAssertFalse(unchecked.contains(target), "\(target) parses user input and must keep its checks")
        }
    }

    func testUncheckedTargetsUseNoPrecondition() throws {
        for target in try uncheckedTargets() {
            let folder = root.appendingPathComponent("Sources/\(target)")
            let files = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
            for file in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains("precondition(") || line.contains("preconditionFailure(") {
                    XCTFail("Sources/\(target)/\(file):\(n + 1): `precondition` is removed by -Ounchecked; use `ensure`")
                }
            }
        }
    }
}

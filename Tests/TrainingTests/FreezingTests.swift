import XCTest
import SwiftCLIP
@testable import Training

/// `model.freeze` decides which parameters train: a frozen tower's parameters have no gradient,
/// every other parameter (and `logit_scale`/`logit_bias`, never frozen) trains and is in the optimizer.
final class FreezingTests: XCTestCase {
    func testFreezeLeavesExactlyTheUnfrozenTowersAndScalarsTrainable() throws {
        let run = try SyntheticRun(items: 16)
        defer { run.cleanup() }
        for objective in ["clip", "siglip"] {
            for freeze in [[], ["visual"], ["text"], ["visual", "text"]] {
                let list = freeze.joined(separator: ", ")
                let yaml = run.yaml(steps: 1, objective: objective, extra: "") + "\n"
                let cfg = try run.config(yaml, overrides: ["model.freeze=[\(list)]", "run.name=f\(objective)\(freeze.count)\(freeze.first ?? "")"])
                let trainer = try Trainer(config: cfg, log: { _ in })
                let model = trainer.model
                // Oracle: the towers' own parameter lists, independent of dotted-name prefixes.
                var expected = Set<String>()
                if !freeze.contains("visual") { expected.formUnion(model.visual.namedParameters(prefix: "visual.").map(\.name)) }
                if !freeze.contains("text") { expected.formUnion(model.text.namedParameters().map(\.name)) }
                expected.insert("logit_scale")
                if model.logitBias != nil { expected.insert("logit_bias") }
                let trainable = Set(model.namedParameters().filter { $0.parameter.requiresGrad }.map(\.name))
                XCTAssertEqual(trainable, expected, "\(objective), freeze \(freeze)")
                XCTAssertEqual(objective == "siglip", trainable.contains("logit_bias"))
                XCTAssertFalse(trainable.isEmpty)
            }
        }
    }
}

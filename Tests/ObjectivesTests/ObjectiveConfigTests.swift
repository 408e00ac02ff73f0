import Foundation
import Objectives
import XCTest

final class ObjectiveConfigTests: XCTestCase {
    func decode(_ json: String) throws -> ObjectiveConfig {
        try JSONDecoder().decode(ObjectiveConfig.self, from: Data(json.utf8))
    }

    func message(_ json: String) -> String {
        do { _ = try decode(json).makeObjective(); return "no error" } catch { return "\(error)" }
    }

    func testEveryTypeBuildsWithDefaults() throws {
        let clip = try decode(#"{"type": "clip"}"#).makeObjective()
        XCTAssertTrue(clip is CLIPObjective)
        XCTAssertEqual(clip.initialScalars, InitialScalars(logitScale: Foundation.log(1 / 0.07)))
        let align = try decode(#"{"type": "align"}"#).makeObjective() as! ALIGNObjective
        XCTAssertEqual(align.labelSmoothing, 0.1)
        XCTAssertEqual(align.initialScalars, InitialScalars(logitScale: 1))
        let convirt = try decode(#"{"type": "convirt"}"#).makeObjective() as! ConVIRTObjective
        XCTAssertEqual([convirt.lambda, convirt.temperature], [0.75, 0.1])
        let siglip = try decode(#"{"type": "siglip"}"#).makeObjective()
        XCTAssertEqual(siglip.initialScalars, InitialScalars(logitScale: Foundation.log(10), logitBias: -10))
        let filip = try decode(#"{"type": "filip"}"#).makeObjective()
        XCTAssertEqual(filip.needs, ObjectiveNeeds(tokens: true))
        let long = try decode(#"{"type": "longclip"}"#).makeObjective() as! LongCLIPObjective
        XCTAssertEqual(long.needs, ObjectiveNeeds(extraCaptionSets: 1))
        XCTAssertEqual([long.shortWeight, long.labelSmoothing, Float(long.components)], [1, 0.1, 32])
        let multi = try decode(#"{"type": "multipos", "k": 4}"#).makeObjective()
        XCTAssertEqual(multi.needs, ObjectiveNeeds(extraCaptionSets: 4))
    }

    func testOptionsAreApplied() throws {
        let o = try decode(#"{"type": "filip", "include_special_tokens": false, "block_size": 8, "temperature_init": 0.05}"#)
            .makeObjective() as! FILIPObjective
        XCTAssertEqual(o.includeSpecialTokens, false)
        XCTAssertEqual(o.blockSize, 8)
        XCTAssertEqual(o.initialScalars.logitScale, Foundation.log(20), accuracy: 1e-6)
        let c = try decode(#"{"type": "convirt", "lambda": 0.5, "tau": 0.2}"#).makeObjective() as! ConVIRTObjective
        XCTAssertEqual([c.lambda, c.temperature], [0.5, 0.2])
        let s = try decode(#"{"type": "siglip", "block_size": 32}"#).makeObjective() as! SigLIPObjective
        XCTAssertEqual(s.blockSize, 32)
        let l = try decode(#"{"type": "longclip", "short_weight": 0.1, "components": 16, "label_smoothing": 0}"#)
            .makeObjective() as! LongCLIPObjective
        XCTAssertEqual([l.shortWeight, Float(l.components), l.labelSmoothing], [0.1, 16, 0])
        // Round trip through JSON keeps snake_case keys.
        let encoded = String(decoding: try JSONEncoder().encode(ObjectiveConfig(MultiPositiveObjective.Options(k: 2, labelSmoothing: 0.1))), as: UTF8.self)
        XCTAssertTrue(encoded.contains("\"label_smoothing\"") && encoded.contains("\"k\""), encoded)
        XCTAssertEqual(try decode(encoded), ObjectiveConfig(MultiPositiveObjective.Options(k: 2, labelSmoothing: 0.1)))
    }

    func testErrorsNameTheKey() {
        let cases: [(String, String)] = [
            (#"{"type": "clipp"}"#, "objective.type: unknown objective 'clipp'"),
            (#"{"type": "clip", "lambda": 0.5}"#, "objective.lambda: not an option of objective 'clip'"),
            (#"{"type": "siglip", "label_smoothing": 0.1}"#, "objective.label_smoothing: not an option of objective 'siglip'"),
            (#"{"type": "align", "label_smoothing": 1.5}"#, "objective.label_smoothing: 1.5 is out of range"),
            (#"{"type": "convirt", "lambda": -0.1}"#, "objective.lambda: -0.1 is out of range"),
            (#"{"type": "convirt", "tau": 0}"#, "objective.tau: 0.0 is out of range"),
            (#"{"type": "filip", "block_size": 0}"#, "objective.block_size: 0 is out of range"),
            (#"{"type": "longclip", "components": 0}"#, "objective.components: 0 is out of range"),
            (#"{"type": "longclip", "short_weight": -1}"#, "objective.short_weight: -1.0 is out of range"),
            (#"{"type": "multipos", "k": 0}"#, "objective.k: 0 is out of range"),
            (#"{"type": "clip", "temperature_init": -0.07}"#, "objective.temperature_init: -0.07 is out of range"),
            (#"{"type": "clip", "labelsmoothing": 0.1}"#, "objective: unknown key 'labelsmoothing'"),
        ]
        for (json, expected) in cases {
            let m = message(json)
            XCTAssertTrue(m.hasPrefix(expected), "\(json): got \(m)")
            XCTAssertFalse(m.contains("\n"), "one line: \(m)")
        }
    }

    func testSubCaptionSampling() {
        let caption = "One. Two. Three. Four. Five.", sentences = ["One.", "Two.", "Three.", "Four.", "Five."]
        var rng = RandomGenerator(seed: 7)
        let picked = MultiPositiveObjective.sampleSubCaptions(caption, sentences: sentences, k: 3, using: &rng)
        XCTAssertEqual(picked.count, 3)
        XCTAssertEqual(Set(picked).count, 3, "without replacement when there are enough sentences")
        var again = RandomGenerator(seed: 7)
        XCTAssertEqual(MultiPositiveObjective.sampleSubCaptions(caption, sentences: sentences, k: 3, using: &again), picked, "deterministic")
        XCTAssertEqual(again, rng, "same draws consumed")

        var small = RandomGenerator(seed: 1)
        let repeated = MultiPositiveObjective.sampleSubCaptions("Only. Two.", sentences: ["Only.", "Two."], k: 5, using: &small)
        XCTAssertEqual(repeated.count, 5)
        XCTAssertTrue(repeated.allSatisfy { ["Only.", "Two."].contains($0) })
        XCTAssertEqual(MultiPositiveObjective.sampleSubCaptions("  no end ", sentences: [], k: 2, using: &small), ["no end", "no end"])
        XCTAssertEqual(MultiPositiveObjective.sampleSubCaptions("", sentences: [], k: 2, using: &small), ["", ""])
    }
}

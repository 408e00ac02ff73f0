import Foundation
import Objectives
import XCTest

/// What objectives say about their texts and evaluation, checked against hand-written expectations.
final class ObjectivePlumbingTests: XCTestCase {
    /// A splitter on ". " only, so the expectations do not depend on Tokenization's rules.
    func batch(_ captions: [String], long: [String]? = nil, indices: [Int] = [0, 1], epoch: Int = 0) -> CaptionBatch {
        CaptionBatch(captions: captions, longCaptions: long, indices: indices, epoch: epoch, seed: 11,
                     sentences: { $0.components(separatedBy: ". ").filter { !$0.isEmpty } })
    }

    func testPooledObjectivesTrainOnTheLoadersCaptions() {
        for objective: any Objective in [CLIPObjective(), ALIGNObjective(), ConVIRTObjective(), SigLIPObjective(), FILIPObjective()] {
            XCTAssertEqual(objective.captionSets(batch(["a. b", "c"])), CaptionSets(), "\(type(of: objective))")
        }
    }

    func testLongCLIPPairsLongCaptionsWithShortOnes() {
        let o = LongCLIPObjective()
        // Without long captions: the caption is the long text, its first sentence the short one.
        XCTAssertEqual(o.captionSets(batch(["a. b", "c"])), CaptionSets(main: ["a. b", "c"], extra: [["a", "c"]]))
        // With long captions: /captions is the short text unless empty or equal to the long one.
        XCTAssertEqual(o.captionSets(batch(["short", ""], long: ["x. y", "z. w"])), CaptionSets(main: ["x. y", "z. w"], extra: [["short", "z"]]))
        XCTAssertEqual(o.captionSets(batch(["x. y"], long: ["x. y"], indices: [0])), CaptionSets(main: ["x. y"], extra: [["x"]]))
    }

    func testMultiPositiveSamplesSentencesOfTheLongCaption() {
        let o = MultiPositiveObjective(k: 2)
        let sets = o.captionSets(batch(["ignored", "ignored"], long: ["a. b. c", "d"]))
        XCTAssertNil(sets.main)
        XCTAssertEqual(sets.extra.count, 2)
        XCTAssertEqual(Set([sets.extra[0][0], sets.extra[1][0]]).count, 2, "two distinct sentences of three")
        XCTAssertTrue([sets.extra[0][0], sets.extra[1][0]].allSatisfy { ["a", "b", "c"].contains($0) })
        XCTAssertEqual([sets.extra[0][1], sets.extra[1][1]], ["d", "d"], "one sentence: drawn with replacement")
        // Deterministic in (seed, epoch, index): the same sample gives the same draw in any batch.
        let alone = o.captionSets(batch(["ignored"], long: ["a. b. c"], indices: [0]))
        XCTAssertEqual(alone.extra.map { $0[0] }, sets.extra.map { $0[0] })
    }

    func testFILIPScoresTokenwise() {
        XCTAssertEqual(CLIPObjective().similarity, .embedding)
        XCTAssertEqual(FILIPObjective(includeSpecialTokens: false).similarity, .tokenwise(includeSpecialTokens: false))
        XCTAssertEqual(try ObjectiveConfig(FILIPObjective.Options()).makeObjective().similarity, .tokenwise(includeSpecialTokens: true))
    }

    func testScalarsHandOverWithinTheCLIPFamilyOnly() {
        XCTAssertTrue(ObjectiveConfig(LongCLIPObjective.Options()).sharesScalars(withCheckpointOf: nil))
        XCTAssertTrue(ObjectiveConfig(MultiPositiveObjective.Options()).sharesScalars(withCheckpointOf: "filip"))
        XCTAssertTrue(ObjectiveConfig(ALIGNObjective.Options()).sharesScalars(withCheckpointOf: "align"))
        XCTAssertFalse(ObjectiveConfig(ALIGNObjective.Options()).sharesScalars(withCheckpointOf: "clip"))
        XCTAssertFalse(ObjectiveConfig(CLIPObjective.Options()).sharesScalars(withCheckpointOf: "siglip"))
        XCTAssertFalse(ObjectiveConfig(CLIPObjective.Options()).sharesScalars(withCheckpointOf: "unknown"))
    }
}

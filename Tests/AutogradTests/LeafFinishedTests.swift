import Autograd
import TestSupport
import XCTest

/// `Variable.backward(_:into:finished:)` reports each reachable leaf once, as soon as its gradient
/// is final, in the order `leaves(reachableFrom:)` announces — what the overlapped gradient
/// all-reduce relies on to send a bucket while the backward pass goes on.
final class LeafFinishedTests: XCTestCase {
    func testEachReachableLeafIsReportedOnceWithItsFinalGradientInAnnouncedOrder() {
        let w1 = Variable(GradientCheck.random([6, 4], seed: 1), requiresGrad: true, name: "w1")
        let b1 = Variable(GradientCheck.random([6], seed: 2), requiresGrad: true, name: "b1")
        let w2 = Variable(GradientCheck.random([3, 6], seed: 3), requiresGrad: true, name: "w2")
        let blocked = Variable(GradientCheck.random([5, 3], seed: 4), requiresGrad: true, name: "blocked")
        let unused = Variable(GradientCheck.random([3], seed: 5), requiresGrad: true, name: "unused")
        let x = Variable(GradientCheck.random([5, 4], seed: 6))
        let seed = GradientCheck.random([5, 3], seed: 7)
        func graph() -> Variable {
            let h = x.linear(weight: w1, bias: b1).gelu().linear(weight: w2, bias: nil)
            // An op that passes no gradient to its second input: `blocked` is reached, gets nothing.
            return Variable.record(h.value + blocked.value, "probe", [h, blocked]) { g in [g, nil] }
        }
        _ = unused
        // Oracle: the same pass without reports.
        let reference = GradientStore()
        Variable.backward([(graph(), seed)], into: reference)

        let out = graph()
        let announced = Variable.leaves(reachableFrom: [out]).map(\.name)
        XCTAssertEqual(Set(announced), ["w1", "b1", "w2", "blocked"])
        XCTAssertEqual(announced.count, 4)
        XCTAssertLessThan(announced.firstIndex(of: "w2")!, announced.firstIndex(of: "w1")!, "layers near the output finish first")
        let store = GradientStore()
        var reported: [String] = []
        Variable.backward([(out, seed)], into: store) { leaf in
            reported.append(leaf.name)
            // Final at the time of the report: equal to the whole pass's gradient.
            XCTAssertEqual(store[leaf]?.scalars, reference[leaf]?.scalars, leaf.name)
        }
        XCTAssertEqual(reported, announced)
        XCTAssertNil(store[blocked])
        XCTAssertNotNil(store[w1])
    }
}

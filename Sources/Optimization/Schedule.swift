import Foundation

/// Learning-rate schedules as pure functions of the step (OpenCLIP's `scheduler.py`).
public enum LearningRateSchedule: Equatable, Sendable {
    /// Linear warmup `lr·(step+1)/warmup`, then `½(1 + cos(π·e/es))·lr`.
    case cosine(baseLR: Float, warmup: Int, totalSteps: Int)
    /// Warmup, then constant.
    case constant(baseLR: Float, warmup: Int)
    /// Warmup, constant, then `(1 − e/es)^power · (lr − end) + end` over the last `cooldown` steps.
    case constCooldown(baseLR: Float, warmup: Int, totalSteps: Int, cooldown: Int, power: Float, endLR: Float)

    public func lr(at step: Int) -> Float {
        switch self {
        case let .cosine(lr, warmup, total):
            if step < warmup { return lr * Float(step + 1) / Float(warmup) }
            let e = step - warmup, es = max(total - warmup, 1)
            return 0.5 * (1 + Float(Foundation.cos(Double.pi * Double(e) / Double(es)))) * lr
        case let .constant(lr, warmup):
            return step < warmup ? lr * Float(step + 1) / Float(warmup) : lr
        case let .constCooldown(lr, warmup, total, cooldown, power, end):
            if step < warmup { return lr * Float(step + 1) / Float(warmup) }
            let start = total - cooldown
            if step < start { return lr }
            let e = step - start, es = max(total - start, 1)
            return Float(Foundation.pow(Double(1 - Float(e) / Float(es)), Double(power))) * (lr - end) + end
        }
    }
}

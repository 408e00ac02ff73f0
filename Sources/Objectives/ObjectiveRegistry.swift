import Foundation
import TensorCore

/// The objectives `objective.type` can name. The built-in ones are registered here, through the
/// same `register` a program calls for its own (docs/DESIGN.md, "Extending"):
///
/// ```swift
/// try ObjectiveRegistry.register(DCLObjective.Options.self)   // then `objective: {type: dcl}` trains it
/// ```
///
/// An objective registered before a config is read is decoded, trained, checkpointed and scored by
/// `evaluate` like a built-in one: its `similarity` is recorded in the checkpoint's metadata.
public enum ObjectiveRegistry {
    /// Registers an objective's options type under its `type`; a name already taken is refused.
    public static func register(_ kind: any ObjectiveOptions.Type) throws {
        try table.withLock { try add(kind, to: &$0) }
    }

    private static func add(_ kind: any ObjectiveOptions.Type, to kinds: inout [any ObjectiveOptions.Type]) throws {
        guard !kinds.contains(where: { $0.type == kind.type }) else {
            throw ObjectiveConfigError("objective type '\(kind.type)' is already registered")
        }
        guard kind.type.range(of: #"^[a-z][a-z0-9_-]*$"#, options: .regularExpression) != nil else {
            throw ObjectiveConfigError("objective type '\(kind.type)': use lowercase letters, digits, '-' and '_' (starting with a letter)")
        }
        kinds.append(kind)
    }

    /// Every registered objective, the built-in ones first, in registration order.
    public static var kinds: [any ObjectiveOptions.Type] { table.withLock { $0 } }

    /// The objective registered as `type`, if any.
    public static func kind(named type: String) -> (any ObjectiveOptions.Type)? {
        table.withLock { $0.first { $0.type == type } }
    }

    /// The objectives SwiftCLIP ships, in the order errors list them.
    public static let builtIn: [any ObjectiveOptions.Type] = [
        CLIPObjective.Options.self, ALIGNObjective.Options.self, FILIPObjective.Options.self, LongCLIPObjective.Options.self,
        SigLIPObjective.Options.self, ConVIRTObjective.Options.self, MultiPositiveObjective.Options.self,
    ]

    private static let table: Locked<[any ObjectiveOptions.Type]> = {
        var kinds: [any ObjectiveOptions.Type] = []
        for kind in builtIn { try! add(kind, to: &kinds) }   // the same checks as a program's objectives
        return Locked(kinds)
    }()
}

/// The `objective:` section of a training config (minimal version; the full set arrives with the objectives work).
public struct ObjectiveConfig: Codable, Equatable, Sendable {
    public var type: String
    public init(type: String) { self.type = type }
    public func makeObjective() throws -> any Objective {
        guard type == "clip" else { throw ObjectiveConfigError("objective.type \(type) is not available") }
        return CLIPObjective()
    }
}

public struct ObjectiveConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

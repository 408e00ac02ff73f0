/// Why an input item was left out of a build: a short `reason` that groups the report ("corrupt JPEG",
/// "missing file", "empty caption") and an optional `detail` for the example ("Premature end of JPEG file").
public struct SkipReason: Error, Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var reason: String
    public var detail: String?

    public init(_ reason: String, detail: String? = nil) {
        self.reason = reason
        self.detail = detail
    }

    public init(stringLiteral reason: String) { self.init(reason) }

    /// The reason for an error met while reading an item: a `SkipReason` as it is, a JPEG failure by its
    /// kind, anything else by its description.
    public init(_ error: any Error) {
        switch error {
        case let reason as SkipReason: self = reason
        case let failure as JPEG.Failure: self.init(failure.reason, detail: failure.detail)
        case let failure as PNG.Failure:   // "corrupt PNG: libpng's message"
            let parts = failure.description.split(separator: ":", maxSplits: 1)
            self.init(String(parts[0]), detail: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil)
        default: self.init("\(error)")
        }
    }

    public var description: String { detail.map { "\(reason): \($0)" } ?? reason }
}

/// One input item a build left out.
public struct SkippedInput: Sendable, Equatable {
    /// Where it came from, e.g. "data.csv row 7 (img/7.jpg)".
    public var source: String
    public var why: SkipReason

    public var reason: String { why.reason }
}

/// The input items a build left out, counted by reason — what `make-shards` reports at the end of every
/// build, and in its error when nothing could be written.
public struct SkipTally: Sendable, Equatable {
    public private(set) var items: [SkippedInput] = []

    public init() {}

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }

    public mutating func add(source: String, _ why: SkipReason) {
        items.append(SkippedInput(source: source, why: why))
    }

    /// Reasons with their counts, most frequent first (ties in the order first met), each with its items.
    public var byReason: [(reason: String, items: [SkippedInput])] {
        var order: [String] = []
        var groups: [String: [SkippedInput]] = [:]
        for item in items {
            if groups[item.reason] == nil { order.append(item.reason) }
            groups[item.reason, default: []].append(item)
        }
        return order.enumerated()
            .sorted { (groups[$0.element]!.count, -$0.offset) > (groups[$1.element]!.count, -$1.offset) }
            .map { ($0.element, groups[$0.element]!) }
    }

    private static func example(_ item: SkippedInput) -> String {
        item.why.detail.map { "\(item.source): \($0)" } ?? item.source
    }

    /// "skipped N items:" then one line per reason, "  3 × corrupt JPEG (first examples, …)".
    public func report(examples: Int = 2) -> [String] {
        guard !items.isEmpty else { return [] }
        return ["skipped \(count) item\(count == 1 ? "" : "s"):"] + byReason.map { reason, items in
            let shown = items.prefix(examples).map(Self.example).joined(separator: ", ")
            return "  \(items.count) × \(reason) (\(shown)\(items.count > examples ? ", …" : ""))"
        }
    }

    /// The reasons on one line, for an error: "3 × missing file (e.g. SOURCE), 1 × empty caption (e.g. SOURCE)".
    public func summaryLine(reasons: Int = 5) -> String {
        let groups = byReason
        var parts = groups.prefix(reasons).map { "\($0.items.count) × \($0.reason) (e.g. \(Self.example($0.items[0])))" }
        if groups.count > reasons { parts.append("and \(groups.count - reasons) more reasons") }
        return parts.joined(separator: ", ")
    }
}

/// A precondition that survives `-Ounchecked` (the hot targets' build mode removes
/// `precondition`): stops with the message when `condition` is false.
@inline(__always)
public func ensure(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                   file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
